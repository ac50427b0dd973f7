import { expect } from "chai";
import type { DataFrame } from "../../../src/storage/dataframe.js";
import { freshBackend } from "../../support/cluster.js";
import { HOUR, T0, dec, manyPoints } from "../../support/data.js";
import { retrieve, total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;
const WINDOW = { begin: T0, end: T0 + 3 * HOUR };

forEachEngine("storage: bulk failures, template upkeep and exact sums in the family's indices", () => {
  let backend: Backend;
  beforeEach(async () => {
    backend = await freshBackend();
  });
  afterEach(async () => backend.drop());

  it("reports a bulk item failure with the point it concerns and stores the other points", async () => {
    // A partition created with a conflicting mapping, as an older tool might have left it.
    const index = backend.partitions.indexFor(T0);
    // `dynamic: true` again: Elasticsearch 8 replaces the template's groupby object with this one, whole.
    await backend.client.request({
      method: "PUT",
      path: `/${index}`,
      body: { mappings: { properties: { groupby: { dynamic: true, properties: { size: { type: "long" } } } } } },
    });
    const frames: DataFrame[] = [
      {
        begin: T0,
        end: T0 + HOUR,
        points: [
          { type: "cpu", unit: "h", qty: dec(1), price: dec(1), groupby: { project_id: "x", size: 10 }, metadata: {} },
          { type: "cpu", unit: "h", qty: dec(1), price: dec(1), groupby: { project_id: "x", size: "large" }, metadata: {} },
          { type: "disk", unit: "GiB", qty: dec(5), price: dec(2), groupby: { project_id: "x" }, metadata: {} },
        ],
      },
    ];
    const res = await backend.push(frames, { refresh: true });
    expect(res.points).to.equal(3);
    expect(res.stored).to.equal(2);
    expect(res.failed).to.have.length(1);
    expect(res.failed[0]).to.include({ dataframe: 0, type: "cpu", index: 1, status: 400 });
    expect(res.failed[0]!.reason).to.match(/mapper_parsing_exception|document_parsing_exception/);
    expect(res.failed[0]!.reason).to.include("groupby.size");
    expect((await retrieve(backend, { ...WINDOW, paginate: false })).total).to.equal(2);
  });

  it("sums carry no float noise: 100,000 points of price 0.1 total exactly 10000", async function () {
    this.timeout(180_000);
    const res = await backend.push(manyPoints(100_000, { price: "0.1", spanHours: 3 }), { refresh: true });
    expect(res.stored).to.equal(100_000);
    const all = await total(backend, WINDOW);
    expect(all.results[0]!.rate).to.equal(dec(10000));
    expect(all.results[0]!.qty).to.equal(dec(100000));
    const byType = await total(backend, { ...WINDOW, groupby: ["type"] });
    expect(byType.results.reduce((a, r) => a + r.rate, 0n)).to.equal(dec(10000));
    // The doubles Dashboards sums are where the noise would show; the exact parts avoid it.
    const raw = await backend.client.request<{ aggregations: { s: { value: number } } }>({
      method: "POST",
      path: `/${backend.partitions.alias}/_search`,
      body: { size: 0, aggs: { s: { sum: { field: "price" } } } },
    });
    console.log(
      `      sum of the price doubles by the cluster: ${raw.body.aggregations.s.value}; exact: ${all.results[0]!.rate / 1_000_000_000n}`,
    );
  });

  it("init is idempotent, safe when instances race, and updates an older template", async () => {
    await Promise.all([backend.init(), backend.init(), backend.init()]);
    const name = backend.partitions.alias;
    const got = await backend.client.request<{ index_templates: { index_template: { version: number } }[] }>({
      method: "GET",
      path: `/_index_template/${name}`,
    });
    const version = got.body.index_templates[0]!.index_template.version;
    // Pretend an older release installed version 0.
    const old = {
      index_patterns: [backend.partitions.pattern],
      version: 0,
      template: { mappings: { properties: { start: { type: "date" } } } },
    };
    await backend.client.request({ method: "PUT", path: `/_index_template/${name}`, body: old });
    await backend.init();
    const after = await backend.client.request<{ index_templates: { index_template: { version: number } }[] }>({
      method: "GET",
      path: `/_index_template/${name}`,
    });
    expect(after.body.index_templates[0]!.index_template.version).to.equal(version);
  });
});

forEachEngine("storage: stored-fields codec (RATESTORE_INDEX_CODEC)", () => {
  for (const codec of ["default", "best_compression"] as const) {
    it(`creates new partitions with codec ${codec}`, async () => {
      const backend = await freshBackend({ indexCodec: codec });
      try {
        await backend.push(manyPoints(10, { spanHours: 3 }), { refresh: true });
        const index = backend.partitions.indexFor(T0);
        const settings = await backend.client.request<Record<string, { settings: { index: { codec?: string } } }>>({
          method: "GET",
          path: `/${index}/_settings`,
        });
        expect(settings.body[index]!.settings.index.codec).to.equal(codec);
        expect((await retrieve(backend, { ...WINDOW, limit: 100 })).total).to.equal(10);
      } finally {
        await backend.drop();
      }
    });
  }
});

forEachEngine("storage: index sorting (RATESTORE_INDEX_SORT=true)", () => {
  it("sorts new partitions in the read order and pages the same", async () => {
    const backend = await freshBackend({ indexSort: true });
    try {
      await backend.push(manyPoints(3000, { spanHours: 3 }), { refresh: true });
      const index = backend.partitions.indexFor(T0);
      const settings = await backend.client.request<
        Record<string, { settings: { index: { sort: { field: string[]; order: string[] } } } }>
      >({ method: "GET", path: `/${index}/_settings` });
      expect(settings.body[index]!.settings.index.sort).to.deep.equal({
        field: ["start", "end", "type", "point_id"],
        order: ["asc", "asc", "asc", "asc"],
      });
      const seen = new Set<string>();
      let after;
      do {
        const page = await retrieve(backend, { ...WINDOW, limit: 250, ...(after ? { after } : {}) });
        for (const d of page.dataframes) for (const p of d.points) seen.add(String(p.groupby.id));
        after = page.next;
      } while (after);
      expect(seen.size).to.equal(3000);
    } finally {
      await backend.drop();
    }
  });
});
