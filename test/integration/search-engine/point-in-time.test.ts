import { expect } from "chai";
import { freshBackend } from "../../support/cluster.js";
import { HOUR, T0, manyPoints } from "../../support/data.js";
import { retrieve } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

/**
 * A long walk (export, paginate=false, deep cursor pages) reads one consistent view where the cluster
 * has a point-in-time: points written while it runs are not seen half-way. Run on every engine; skipped
 * where the profile says the cluster has no point-in-time (Elasticsearch 7.10's test zip).
 */
forEachEngine("storage: a walk holds one view while points are added during it", function () {
  this.timeout(300_000);
  const N = 12_000;
  const WINDOW = { begin: T0, end: T0 + 10 * HOUR };

  it("sees exactly the points present when it started, in the point-in-time flavour of the engine", async function () {
    const backend = await freshBackend();
    try {
      if (backend.profile.pit === "none") this.skip();
      expect(backend.profile.pit).to.equal(backend.profile.distribution);
      expect((await backend.push(manyPoints(N), { refresh: true })).stored).to.equal(N);
      let seen = 0;
      let added = false;
      for await (const _point of backend.iteratePoints(WINDOW)) {
        seen++;
        if (seen === 100) {
          // Same periods and types, other prices: new points that sort among the ones not yet read.
          expect((await backend.push(manyPoints(3_000, { price: "0.2" }), { refresh: true })).stored).to.equal(3_000);
          added = true;
        }
      }
      expect(added).to.equal(true);
      expect(seen, "points seen by the walk").to.equal(N);
      expect((await retrieve(backend, { ...WINDOW, limit: 1 })).total, "points present afterwards").to.equal(N + 3_000);
    } finally {
      await backend.drop();
    }
  });

  it("an export scan that loses a partition of its view stops with an error saying so, never with fewer points", async function () {
    const backend = await freshBackend();
    try {
      if (backend.profile.storageOrder !== "shard_doc") this.skip();
      const second = T0 + 40 * 24 * HOUR;
      expect((await backend.push(manyPoints(6_000), { refresh: true })).stored).to.equal(6_000);
      expect((await backend.push(manyPoints(6_000, { start: second }), { refresh: true })).stored).to.equal(6_000);
      expect(backend.partitions.indexFor(second)).to.not.equal(backend.partitions.indexFor(T0));
      let seen = 0;
      const scan = async () => {
        for await (const page of backend.scanPoints({ begin: T0, end: second + 10 * HOUR })) {
          // After the first page, the third is not requested yet: it will meet the deleted partition.
          if (seen === 0) await backend.client.request({ method: "DELETE", path: `/${backend.partitions.indexFor(second)}` });
          seen += page.length;
        }
      };
      let error: Error | undefined;
      await scan().catch((err: Error) => (error = err));
      expect(error, `the scan ended after ${seen} points without an error`).to.be.instanceOf(Error);
      expect(error!.message).to.match(/point-in-time of a scan was lost.*run the export again/);
      expect(seen).to.be.below(12_000);
    } finally {
      await backend.drop();
    }
  });
});
