import { expect } from "chai";
import { SharedRefresh } from "../../src/storage/search-engine/shared-refresh.js";

/** A refresh that finishes when the test says so, recording when each started. */
class FakeRefreshes {
  readonly started: number[] = [];
  /** The start times of the refreshes that have finished. */
  readonly finished: number[] = [];
  private readonly finish: ((err?: Error) => void)[] = [];
  clock = 0;

  run = (): Promise<void> => {
    const at = this.clock;
    this.started.push(at);
    return new Promise<void>((resolve, reject) =>
      this.finish.push((err) => {
        this.finished.push(at);
        if (err) reject(err);
        else resolve();
      }),
    );
  };

  get unfinished(): number {
    return this.finish.length;
  }

  /** Ends the oldest unfinished refresh, then lets the promise callbacks run. */
  async end(err?: Error): Promise<void> {
    this.finish.shift()!(err);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

describe("SharedRefresh: reads share refreshes that started after them", () => {
  it("a read with nothing running starts a refresh; reads arriving while it runs share one next refresh", async () => {
    const f = new FakeRefreshes();
    let idle = 0;
    const shared = new SharedRefresh(f.run, () => idle++);
    const done: string[] = [];
    f.clock = 1;
    const first = shared.request().then(() => done.push("first"));
    f.clock = 2;
    const second = shared.request().then(() => done.push("second"));
    f.clock = 3;
    const third = shared.request().then(() => done.push("third"));
    expect(f.started).to.deep.equal([1]);
    await f.end();
    // The running refresh may have started before the writes the later reads must see: they wait for the next.
    expect(done).to.deep.equal(["first"]);
    expect(f.started).to.deep.equal([1, 3]);
    expect(idle).to.equal(0);
    await f.end();
    await Promise.all([first, second, third]);
    expect(done).to.deep.equal(["first", "second", "third"]);
    expect(f.started).to.have.length(2);
    expect(idle).to.equal(1);
  });

  it("every read is answered only after a refresh that started at or after its arrival has finished", async () => {
    const f = new FakeRefreshes();
    const shared = new SharedRefresh(f.run);
    const checks: Promise<void>[] = [];
    for (let t = 0; t < 30; t++) {
      f.clock = t;
      const arrived = t;
      checks.push(
        shared.request().then(() => {
          expect(Math.max(...f.finished), `read arriving at ${arrived}`).to.be.at.least(arrived);
        }),
      );
      if (t % 3 === 2 && f.unfinished > 0) await f.end();
    }
    while (f.unfinished > 0) await f.end();
    await Promise.all(checks);
    // Thirty reads, a refresh ending every third one: far fewer refreshes than reads.
    expect(f.started.length).to.be.within(2, 12);
  });

  it("a failed refresh fails the reads it answers, and the queued one still runs", async () => {
    const f = new FakeRefreshes();
    const shared = new SharedRefresh(f.run);
    const first = shared.request();
    const second = shared.request();
    await f.end(new Error("node gone"));
    let firstError: unknown;
    await first.catch((err: unknown) => (firstError = err));
    expect((firstError as Error).message).to.equal("node gone");
    expect(f.started).to.have.length(2);
    await f.end();
    await second;
    const third = shared.request();
    expect(f.started).to.have.length(3);
    await f.end();
    await third;
  });
});
