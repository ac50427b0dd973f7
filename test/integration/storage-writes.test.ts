import { expect } from "chai";
import type { DataFrame } from "../../src/storage/dataframe.js";
import { freshBackend } from "../support/cluster.js";
import { HOUR, T0, dec, expectedSums, manyPoints, scenarioFrames } from "../support/data.js";
import { retrieve, total } from "../../src/storage/reads.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;
const WINDOW = { begin: T0, end: T0 + 3 * HOUR };

describe("storage: writes, retries and deletes on the real node", () => {
  let backend: Backend;
  beforeEach(async () => {
    backend = await freshBackend();
  });
  afterEach(async () => backend.drop());

  it("pushing the same payload twice stores nothing twice", async () => {
    const first = await backend.push(scenarioFrames(), { refresh: true });
    const before = await total(backend, { ...WINDOW, groupby: ["project_id"] });
    // The retry arrives with its points in another order: ids do not depend on order.
    const shuffled = scenarioFrames().map((df) => ({ ...df, points: [...df.points].reverse() }));
    const second = await backend.push(shuffled, { refresh: true });
    expect(first).to.include({ points: 84, stored: 84, duplicates: 0 });
    expect(second).to.include({ points: 84, stored: 0, duplicates: 84 });
    expect((await retrieve(backend, { ...WINDOW, paginate: false })).total).to.equal(84);
    expect(await total(backend, { ...WINDOW, groupby: ["project_id"] })).to.deep.equal(before);
  });

  it("identical points: all kept within a push however framed; a push sent again stores nothing twice", async () => {
    const p = { type: "cpu", unit: "h", qty: dec(1), price: dec(1), groupby: { project_id: "x" }, metadata: {} };
    const frame = (...points: (typeof p)[]) => ({ begin: T0, end: T0 + HOUR, points });
    // Twice in one dataframe, or once in each of two dataframes of the period: the same two points.
    expect(await backend.push([frame(p, p)])).to.deep.include({ points: 2, stored: 2, duplicates: 0, failed: [] });
    expect(await backend.push([frame(p), frame(p)])).to.deep.include({ points: 2, stored: 0, duplicates: 2, failed: [] });
    // A third occurrence in one request is a third point; the first two are recognized.
    expect(await backend.push([frame(p, p, p)])).to.deep.include({ points: 3, stored: 1, duplicates: 2, failed: [] });
    expect((await total(backend, WINDOW)).results[0]!.rate).to.equal(dec(3));
  });

  it("deleting one project's points in a window leaves the other project's", async () => {
    await backend.push(scenarioFrames(), { refresh: true });
    const res = await backend.delete({ begin: T0 + HOUR, end: T0 + 2 * HOUR, groupFilters: { project_id: "proj-a" } });
    expect(res.deleted).to.equal(14);
    const left = await retrieve(backend, { ...WINDOW, paginate: false });
    expect(left.total).to.equal(84 - 14);
    const inWindow = await retrieve(backend, { begin: T0 + HOUR, end: T0 + 2 * HOUR, paginate: false });
    expect(inWindow.dataframes.flatMap((d) => d.points).every((p) => p.groupby.project_id === "proj-b")).to.equal(true);
    expect((await total(backend, { ...WINDOW, groupFilters: { project_id: "proj-b" } })).results[0]!.rate).to.equal(
      expectedSums(3, (_h, p) => p === 1).rate,
    );
  });

  it("delete honours metric types and metadata filters, and with no window deletes every match", async () => {
    await backend.push(scenarioFrames(), { refresh: true });
    expect((await backend.delete({ metricTypes: "cpu", filters: { flavor: "f0" } })).deleted).to.equal(6);
    expect((await retrieve(backend, { ...WINDOW, paginate: false })).total).to.equal(78);
  });

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

  it("maps a label that is a number in one point and a string in another without conflict", async () => {
    const res = await backend.push(
      [
        {
          begin: T0,
          end: T0 + HOUR,
          points: [{ type: "a", unit: "u", qty: dec(1), price: dec(1), groupby: { year: 2022 }, metadata: { v: 1.5 } }],
        },
        {
          begin: T0 + HOUR,
          end: T0 + 2 * HOUR,
          points: [{ type: "a", unit: "u", qty: dec(1), price: dec(1), groupby: { year: "2023" }, metadata: { v: true } }],
        },
      ],
      { refresh: true },
    );
    expect(res.failed).to.deep.equal([]);
    const byYear = await total(backend, { ...WINDOW, groupby: ["year"] });
    expect(byYear.results.map((r) => r.groups.year)).to.deep.equal(["2022", "2023"]);
  });
});

describe("storage: stored-fields codec (RATESTORE_INDEX_CODEC)", () => {
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

describe("storage: index sorting (RATESTORE_INDEX_SORT=true)", () => {
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
