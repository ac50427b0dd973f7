/** Progress on a terminal (one redrawn line), or a log line every few seconds when not a terminal. */
export interface ProgressState {
  points: number;
  stored: number;
  rejected: number;
  bytesRead: number;
  totalBytes?: number;
  /** What bytesRead counts: "bytes" of input (ingest) or "documents" of a source index (migrate). */
  unit?: string;
}

const fmt = (n: number) => n.toLocaleString("en-US");

export class Progress {
  private readonly started = Date.now();
  private lastLog = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: () => ProgressState,
    private readonly what = "ingest",
    private readonly tty = Boolean(process.stderr.isTTY),
    private readonly intervalMs = tty ? 250 : 5000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.render(), this.intervalMs);
    this.timer.unref();
  }

  private line(): string {
    const s = this.state();
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? s.points / secs : 0;
    const frac = s.totalBytes ? Math.min(1, s.bytesRead / s.totalBytes) : undefined;
    const eta = frac && frac > 0 ? Math.max(0, secs / frac - secs) : undefined;
    const unit = s.unit ?? "bytes";
    const done = frac !== undefined ? `${(frac * 100).toFixed(1)}% of ${fmt(s.totalBytes!)} ${unit}` : `${fmt(s.bytesRead)} ${unit}`;
    return `${fmt(s.points)} points read, ${fmt(s.stored)} stored, ${fmt(s.rejected)} rejected | ${fmt(Math.round(rate))} points/s | ${done}${eta !== undefined ? ` | ETA ${Math.round(eta)}s` : ""}`;
  }

  render(): void {
    if (this.tty) {
      const s = this.state();
      const frac = s.totalBytes ? Math.min(1, s.bytesRead / s.totalBytes) : 0;
      const width = 24;
      const bar = "=".repeat(Math.round(frac * width)).padEnd(width, " ");
      process.stderr.write(`\r[${bar}] ${this.line()}\u001b[K`);
    } else if (Date.now() - this.lastLog >= this.intervalMs) {
      this.lastLog = Date.now();
      process.stderr.write(
        `${JSON.stringify({ level: "info", message: `${this.what} progress`, detail: this.line(), time: new Date().toISOString() })}\n`,
      );
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write(`\r${this.line()}\u001b[K\n`);
  }
}
