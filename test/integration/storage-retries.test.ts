import { expect } from "chai";
import { BackendUnavailableError } from "../../src/errors.js";
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
      opensearch: { ...base.opensearch, url: proxy.url },
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

  it("gives up with BackendUnavailableError after its retries, saying that pushing again is safe", async () => {
    const proxy = await startFaultProxy(process.env.OPENSEARCH_URL!, { bulk503: 1000, bulkItems429: 0 });
    const base = testStorageConfig();
    const backend = await freshBackend({ indexPrefix: base.indexPrefix, opensearch: { ...base.opensearch, url: proxy.url }, bulk: { ...base.bulk, retries: 2 } });
    try {
      await backend.push(manyPoints(10));
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(BackendUnavailableError);
      expect((err as Error).message).to.match(/pushing again is safe/);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });
});
