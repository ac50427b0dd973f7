import { expect } from "chai";
import { BackendUnavailableError } from "../../../src/errors.js";
import { PushInterruptedError } from "../../../src/storage/backend.js";
import { freshBackend, testStorageConfig } from "../../support/cluster.js";
import { HOUR, T0, manyPoints } from "../../support/data.js";
import { startApi } from "../../support/api.js";
import { startFaultProxy, type Faults } from "../../support/fault-proxy.js";
import { retrieve } from "../../../src/storage/reads.js";
import { clusterUrl, onDefaultEngine } from "../../support/engines.js";

onDefaultEngine("storage: retries against a failing cluster (real node behind a fault-injecting proxy)", function () {
  this.timeout(120_000);

  it("retries 503 bulk requests and 429 items with backoff; every point is stored exactly once", async () => {
    const proxy = await startFaultProxy(clusterUrl(), { bulk503: 2, bulkItems429: 2 });
    const base = testStorageConfig();
    const backend = await freshBackend({
      indexPrefix: base.indexPrefix,
      cluster: { ...base.cluster, urls: [proxy.url] },
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
      expect((await retrieve(backend, { begin: T0, end: T0 + 2 * HOUR, paginate: false })).total).to.equal(2000);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });

  it("gives up with PushInterruptedError after its retries of refused requests, saying the points are not stored and that pushing again is safe", async () => {
    const proxy = await startFaultProxy(clusterUrl(), { bulk503: 1000, bulkItems429: 0 });
    const base = testStorageConfig();
    const backend = await freshBackend({
      indexPrefix: base.indexPrefix,
      cluster: { ...base.cluster, urls: [proxy.url] },
      bulk: { ...base.bulk, retries: 2 },
    });
    try {
      await backend.push(manyPoints(10));
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(PushInterruptedError);
      const e = err as PushInterruptedError;
      expect(e.transient).to.equal(true);
      expect(e.message).to.match(/Nothing more of this push will be written; pushing it again is safe/);
      // The cluster answered 503 for the whole request each time: nothing was written, and that is known.
      expect(e.result).to.deep.include({ points: 10, stored: 0, duplicates: 0, unknown: [] });
      expect(e.result.failed).to.have.length(10);
      expect(e.result.failed[0]!.status).to.equal(503);
      expect(proxy.seen.bulk).to.equal(3);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });
  type Proxy = Awaited<ReturnType<typeof startFaultProxy>>;
  type Backend = Awaited<ReturnType<typeof freshBackend>>;
  /** Runs `test` with a backend behind a fault proxy, whose requests time out after `timeoutMs`; both are removed after. */
  async function throughProxy(
    faults: Faults,
    timeoutMs: number,
    concurrency: number,
    test: (backend: Backend, proxy: Proxy) => Promise<void>,
  ) {
    const proxy = await startFaultProxy(clusterUrl(), faults);
    const base = testStorageConfig();
    const backend = await freshBackend({
      indexPrefix: base.indexPrefix,
      cluster: { ...base.cluster, urls: [proxy.url], requestTimeoutMs: timeoutMs },
      bulk: { ...base.bulk, concurrency },
    });
    try {
      await test(backend, proxy);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  }
  const interruption = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail("the push should have been interrupted"),
      (err: unknown) => {
        expect(err).to.be.instanceOf(PushInterruptedError);
        return err as PushInterruptedError;
      },
    );
  const settled = async (backend: Backend, points: number) => {
    // Read straight from the node (not through the proxy), once what the proxy held has been carried out.
    const direct = await freshBackend({ indexPrefix: backend.config.indexPrefix });
    try {
      for (let i = 0; i < 60; i++) {
        const total = (await retrieve(direct, { begin: T0, end: T0 + 10 * HOUR, limit: 1 }).catch(() => ({ total: 0 }))).total;
        if (total >= points) return total;
        await new Promise((r) => setTimeout(r, 250));
      }
      return (await retrieve(direct, { begin: T0, end: T0 + 10 * HOUR, limit: 1 })).total;
    } finally {
      await direct.close();
    }
  };

  it("a bulk request held past the timeout: the answer says its points may still be written, and nothing is sent more than twice", async () => {
    // The node gets the request 5 s late, long after the client (1 s timeout) gave up; so does the one
    // resend after the look-up found nothing. Both are carried out: the create ids keep one copy each.
    await throughProxy(
      { bulk503: 0, bulkItems429: 0, delays: [{ path: "/_bulk", when: "before", ms: 5000, count: 2 }] },
      1000,
      1,
      async (backend, proxy) => {
        const e = await interruption(backend.push(manyPoints(500)));
        expect(e.message).to.match(/may still write the unknown points after this answer/);
        expect(e.message).to.not.match(/Nothing more of this push will be written/);
        expect(e.result).to.deep.include({ points: 500, stored: 0, failed: [] });
        expect(e.result.unknown).to.have.length(500);
        expect(proxy.seen.bulk).to.equal(2);
        expect(proxy.seen.mget).to.equal(1);
        // The held requests are carried out after the answer: every point appears, once.
        expect(await settled(backend, 500)).to.equal(500);
        // The advice holds: the same push again settles it and stores nothing twice.
        const again = await backend.push(manyPoints(500));
        expect(again).to.deep.include({ points: 500, stored: 0, duplicates: 500, failed: [], unknown: [] });
        expect(await settled(backend, 500)).to.equal(500);
      },
    );
  });

  it("a bulk request whose answer is lost: the points are looked up, found, and not sent again", async () => {
    await throughProxy(
      { bulk503: 0, bulkItems429: 0, delays: [{ path: "/_bulk", when: "after", ms: 3000, count: 1 }] },
      1000,
      1,
      async (backend, proxy) => {
        const res = await backend.push(manyPoints(500));
        expect(res).to.deep.include({ points: 500, stored: 500, duplicates: 0, failed: [], unknown: [] });
        expect(proxy.seen.bulk).to.equal(1);
        expect(proxy.seen.mget).to.equal(1);
        expect(await settled(backend, 500)).to.equal(500);
      },
    );
  });

  it("every answer slower than the timeout: one bulk request per chunk, not one per retry", async () => {
    const slow = [
      { path: "/_bulk", when: "after" as const, ms: 2000, count: 100 },
      { path: "/_mget", when: "after" as const, ms: 2000, count: 100 },
    ];
    await throughProxy({ bulk503: 0, bulkItems429: 0, delays: slow }, 1000, 2, async (backend, proxy) => {
      const e = await interruption(backend.push(manyPoints(1000)));
      expect(e.result.unknown).to.have.length(1000);
      expect(e.message).to.match(/may still write/);
      // Two chunks of 500, each sent once and then looked up (the look-up got no answer either).
      expect(proxy.seen.bulk).to.equal(2);
      expect(await settled(backend, 1000)).to.equal(1000);
    });
  });

  it("a read-only cluster: the push's points are known not stored, with the block named, and health says writes are refused", async () => {
    const backend = await freshBackend();
    const block = (value: boolean | null) =>
      backend.client.request({ method: "PUT", path: "/_cluster/settings", body: { persistent: { "cluster.blocks.read_only": value } } });
    let api: Awaited<ReturnType<typeof startApi>> | undefined;
    try {
      expect((await backend.push(manyPoints(10))).stored).to.equal(10); // the partitions exist
      expect((await backend.health()).writesRefused).to.equal(undefined);
      await block(true);
      const e = await interruption(backend.push(manyPoints(10, { price: "0.2" })));
      expect(e.transient).to.equal(false);
      expect(e.result).to.deep.include({ points: 10, stored: 0, unknown: [] });
      expect(e.result.failed).to.have.length(10);
      expect(e.result.failed[0]!.status).to.equal(403);
      expect(e.result.failed[0]!.reason).to.match(/cluster_block_exception/);
      // Refused at the rollup marks, before any point is sent, or at the points' first request.
      expect(e.message).to.match(/Nothing (more )?of this push (will be|was) written/);
      const health = await backend.health();
      expect(health.writesRefused).to.match(/read-only/);
      expect(health.problems.join(" ")).to.match(/writes are refused/);
      // /readyz says so; reads are still served.
      api = await startApi({}, undefined, { indexPrefix: backend.config.indexPrefix });
      const ready = await api.call("/readyz", { key: null });
      expect(ready.status).to.equal(200);
      const body = (await ready.json()) as { status: string; writes: { accepted: boolean; reason?: string } };
      expect(body.status).to.equal("read_only");
      expect(body.writes.accepted).to.equal(false);
      expect(body.writes.reason).to.match(/read-only/);
    } finally {
      await block(null);
      await api?.close();
      await backend.drop();
    }
  });

  it("a refresh that misses a shard copy fails the read (503) instead of answering without acknowledged points; a refresh=true push whose refresh fails has still stored its points", async () => {
    const proxy = await startFaultProxy(clusterUrl(), { bulk503: 0, bulkItems429: 0, refreshShardFailures: 2 });
    const base = testStorageConfig();
    const backend = await freshBackend({ indexPrefix: base.indexPrefix, cluster: { ...base.cluster, urls: [proxy.url] } });
    const window = { begin: T0, end: T0 + HOUR };
    try {
      expect((await backend.push(manyPoints(50, { spanHours: 1 }))).stored).to.equal(50);
      const read = await retrieve(backend, { ...window, limit: 10 }).then(
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
      expect((await retrieve(backend, { ...window, paginate: false })).total).to.equal(70);
    } finally {
      await backend.drop();
      await proxy.close();
    }
  });
});
