/**
 * One refresh shared by every read that arrives while another is running (group commit). A read must
 * wait for a refresh that *started* after it did: one already running may have started before the push
 * the read must see. So a read that finds one running waits for the next, and every read arriving
 * meanwhile shares that next one. However many reads run at once, at most two refreshes of the same
 * partitions are in flight or queued (on a 2-core node the refresh pool has one thread).
 */
export class SharedRefresh {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly run: () => Promise<void>,
    /** Called when nothing is running or queued any more (the owner may forget this instance). */
    private readonly idle: () => void = () => {},
  ) {}

  /** Resolves once a refresh that started after this call has finished (rejects if it failed). */
  request(): Promise<void> {
    if (!this.running) return this.start();
    this.queued ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  private startQueued(): Promise<void> {
    this.queued = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const current: Promise<void> = this.run().finally(() => {
      if (this.running === current) this.running = undefined;
      if (!this.running && !this.queued) this.idle();
    });
    this.running = current;
    return current;
  }
}
