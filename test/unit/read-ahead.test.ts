import { expect } from "chai";
import { readAhead } from "../../src/storage/search-engine/read-ahead.js";

/** Pages 0..last, each written on the next turn of the event loop and answered on the one after, as a socket would; `log` records the order of events. */
function pages(last: number, log: string[]) {
  const fetch = (n: number) => {
    log.push(`send ${n}`);
    // What a socket write waits for: the next turn of the event loop.
    setImmediate(() => log.push(`written ${n}`));
    return new Promise<number>((resolve) => setImmediate(() => setImmediate(() => resolve(n))));
  };
  return { first: fetch(0), next: (n: number) => (n < last ? fetch(n + 1) : undefined) };
}

describe("readAhead", () => {
  it("sends the next request, and lets a turn of the event loop pass, before a page is handed over", async () => {
    const log: string[] = [];
    const { first, next } = pages(2, log);
    for await (const n of readAhead(first, next)) log.push(`use ${n}`);
    expect(log).to.deep.equal(["send 0", "written 0", "send 1", "written 1", "use 0", "send 2", "written 2", "use 1", "use 2"]);
  });

  it("lets the request in flight settle when the consumer stops early, even if it fails", async () => {
    let settled = false;
    const failing = new Promise<number>((_, reject) =>
      setTimeout(() => {
        settled = true;
        reject(new Error("lost"));
      }, 5),
    );
    for await (const n of readAhead(Promise.resolve(0), (p) => (p === 0 ? failing : undefined))) {
      expect(n).to.equal(0);
      break;
    }
    expect(settled).to.equal(true);
  });

  it("hands a failed page's error to the consumer", async () => {
    const seen: number[] = [];
    let error: unknown;
    try {
      for await (const n of readAhead(Promise.resolve(0), () => Promise.reject(new Error("lost")))) seen.push(n);
    } catch (err) {
      error = err;
    }
    expect(seen).to.deep.equal([0]);
    expect((error as Error).message).to.equal("lost");
  });
});
