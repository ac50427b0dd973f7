import { expect } from "chai";
import { BackendUnavailableError, PushInterruptedError } from "../../src/errors.js";
import { freshBackend, testStorageConfig } from "../support/cluster.js";
import { HOUR, T0, manyPoints } from "../support/data.js";
import { startFaultProxy } from "../support/fault-proxy.js";

describe("storage: retries against a failing cluster (real node behind a fault-injecting proxy)", function () {
  this.timeout(120_000);

  it("retries 503 bulk requests and 429 items with backoff; every point is stored exactly once", async () => {
    const proxy = await startFaultProxy(process.env.OPENSEARCH_URL!, { bulk503: 2, bulkItems429: 2 });
    const base = testStorageConfig();
    const backend = await freshBackend({
      indexPrefix: base.indexPrefix,
      opensearch: { ...base.opensearch, urls: [proxy.url] },
      bulk: { ...base.bulk, maxDocs: 500, concurrency: 1 },
    });
    try {
      const res = await backend.push(manyPoints(2000, { spanHours: 2 }), { refresh: true });
      expect(res.failed).to.deep.equal([]);
      // Items reported as 429 were stored by the node: their retry meets a 409 and counts as a duplicate.
      // 250 of the first chunk's 500 come back 429; their retry is the second faulty response (125 more 429s).
      expect(res.stored + res.duplicates).to.equal(2000);
      expect(res.duplicates).to.equal(250);
      expect(backend.writeStats().retries).to.be.at.least(4);
      expect(proxy.seen.bulk).to.be.at.least(8);
      expect((await backend.retrieve({ begin: T0, end: T0 + 2 * HOUR, paginate: false })).total).to.equal(2000);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });

  it("gives up with PushInterruptedError after its retries, saying which points are unknown and that pushing again is safe", async () => {
    const proxy = await startFaultProxy(process.env.OPENSEARCH_URL!, { bulk503: 1000, bulkItems429: 0 });
    const base = testStorageConfig();
    const backend = await freshBackend({ indexPrefix: base.indexPrefix, opensearch: { ...base.opensearch, urls: [proxy.url] }, bulk: { ...base.bulk, retries: 2 } });
    try {
      await backend.push(manyPoints(10));
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(PushInterruptedError);
      const e = err as PushInterruptedError;
      expect(e.transient).to.equal(true);
      expect(e.message).to.match(/pushing it again is safe/);
      expect(e.result).to.deep.include({ points: 10, stored: 0, duplicates: 0, failed: [] });
      expect(e.result.unknown).to.have.length(10);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });
  it("a refresh that misses a shard copy fails the read (503) instead of answering without acknowledged points; a refresh=true push whose refresh fails has still stored its points", async () => {
    const proxy = await startFaultProxy(process.env.OPENSEARCH_URL!, { bulk503: 0, bulkItems429: 0, refreshShardFailures: 2 });
    const base = testStorageConfig();
    const backend = await freshBackend({ indexPrefix: base.indexPrefix, opensearch: { ...base.opensearch, urls: [proxy.url] } });
    const window = { begin: T0, end: T0 + HOUR };
    try {
      expect((await backend.push(manyPoints(50, { spanHours: 1 }))).stored).to.equal(50);
      const read = await backend.retrieve({ ...window, limit: 10 }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(read).to.be.instanceOf(BackendUnavailableError);
      expect((read as Error).message).to.match(/failed on 1 shard copies/);
      const push = await backend.push(manyPoints(20, { spanHours: 1, price: "0.2" }), { refresh: true }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(push).to.be.instanceOf(BackendUnavailableError);
      // The injected failures are spent: the next read refreshes for real and sees both pushes whole.
      expect((await backend.retrieve({ ...window, paginate: false })).total).to.equal(70);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });
});
