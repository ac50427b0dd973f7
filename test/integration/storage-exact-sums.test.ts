import { expect } from "chai";
import type { TotalOptions } from "../../src/storage/backend.js";
import type { DataFrame, RatedPoint } from "../../src/storage/dataframe.js";
import { InexactTotalError } from "../../src/errors.js";
import { formatNanos } from "../../src/storage/decimal.js";
import { buildPointsTemplate, loadTemplateFile } from "../../src/storage/search-engine/templates.js";
import { startApi } from "../support/api.js";
import { freshBackend } from "../support/cluster.js";
import { HOUR, T0, dec } from "../support/data.js";
import { retrieve, total } from "../../src/storage/reads.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;

/** The largest whole amount accepted. */
const MAX = "999999999999999";

const point = (project: string, qty: string, price: string, type = "network.outgoing.bytes"): RatedPoint => ({
  type,
  unit: "B",
  qty: dec(qty),
  price: dec(price),
  groupby: { project_id: project, id: `r-${project}` },
  metadata: {},
});

/** The exact sums of what was pushed, per project, as decimal text. */
function expected(frames: readonly DataFrame[], keep: (p: RatedPoint) => boolean = () => true): { qty: string; rate: string } {
  let qty = 0n;
  let rate = 0n;
  for (const df of frames) for (const p of df.points) if (keep(p)) [qty, rate] = [qty + p.qty, rate + p.price];
  return { qty: formatNanos(qty), rate: formatNanos(rate) };
}

async function rows(backend: Backend, options: TotalOptions): Promise<Record<string, { qty: string; rate: string }>> {
  const r = await total(backend, { begin: T0, end: T0 + 24 * HOUR, ...options });
  return Object.fromEntries(
    r.results.map((row) => [JSON.stringify(row.groups), { qty: formatNanos(row.qty), rate: formatNanos(row.rate) }]),
  );
}

describe("storage: totals exact past 2^53, on the real node", () => {
  let backend: Backend;
  // 2^53 = 9,007,199,254,740,992. Each project's amounts are chosen to cross it in a way sums of doubles round.
  const frames: DataFrame[] = [
    {
      begin: T0,
      end: T0 + HOUR,
      points: [
        // 11 × 999,999,999,999,999 = 10,999,999,999,999,989: odd, past 2^53.
        ...Array.from({ length: 11 }, () => point("units", MAX, MAX)),
        // Nine of the largest and one more: 2^53 + 1 exactly, on quantities and prices.
        ...Array.from({ length: 9 }, () => point("boundary", MAX, MAX)),
        point("boundary", "7199254741002", "7199254741002"),
        // The same, negative.
        ...Array.from({ length: 9 }, () => point("negative", `-${MAX}`, `-${MAX}`)),
        point("negative", "-7199254741002", "-7199254741002"),
        // Mixed signs: partial sums past 2^53, a total of 10,999,999,999,999,988.999999999.
        ...Array.from({ length: 11 }, () => point("mixed", MAX, MAX)),
        point("mixed", "-0.000000001", "-0.000000001"),
        // Nano-units of every limb, just below 2^53 in units: exact both ways.
        point("below", "9007199254740.991", "0.000000001"),
      ],
    },
    {
      begin: T0 + HOUR,
      end: T0 + 2 * HOUR,
      points: Array.from({ length: 11 }, () => point("units", MAX, `-${MAX}.999999999`, "cpu")),
    },
  ];
  const projects = ["units", "boundary", "negative", "mixed", "below"];

  before(async () => {
    backend = await freshBackend();
    const res = await backend.push(frames, { refresh: true });
    expect(res.failed).to.deep.equal([]);
    expect(res.stored).to.equal(frames.reduce((n, df) => n + df.points.length, 0));
  });
  after(async () => backend.drop());

  it("grouped by project_id: every group exact to the nano-unit", async () => {
    const got = await rows(backend, { groupby: ["project_id"], paginate: false });
    for (const project of projects)
      expect(got[JSON.stringify({ project_id: project })], project).to.deep.equal(
        expected(frames, (p) => p.groupby.project_id === project),
      );
    expect(got[JSON.stringify({ project_id: "units" })]!.qty).to.equal("21999999999999978");
    expect(got[JSON.stringify({ project_id: "boundary" })]).to.deep.equal({ qty: "9007199254740993", rate: "9007199254740993" });
    expect(got[JSON.stringify({ project_id: "negative" })]).to.deep.equal({ qty: "-9007199254740993", rate: "-9007199254740993" });
    expect(got[JSON.stringify({ project_id: "mixed" })]!.qty).to.equal("10999999999999988.999999999");
  });

  it("ungrouped, and for one project: exact", async () => {
    expect(Object.values(await rows(backend, {}))).to.deep.equal([expected(frames)]);
    expect(Object.values(await rows(backend, { groupFilters: { project_id: "boundary" } }))).to.deep.equal([
      expected(frames, (p) => p.groupby.project_id === "boundary"),
    ]);
  });

  it("by type and by period: exact in every time group", async () => {
    const got = await rows(backend, { groupby: ["time", "type"], paginate: false, groupFilters: { project_id: "units" } });
    expect(Object.values(got)).to.deep.equal([
      { qty: "10999999999999989", rate: "10999999999999989" },
      { qty: "10999999999999989", rate: "-10999999999999999.999999989" },
    ]);
    const daily = await rows(backend, { groupby: ["time-d"] });
    expect(Object.values(daily)).to.deep.equal([expected(frames)]);
  });

  it("page by page with offsets: the same exact rows as one walk", async () => {
    const walk = await total(backend, { begin: T0, end: T0 + 24 * HOUR, groupby: ["project_id"], paginate: false });
    const paged = [];
    for (let offset = 0; offset < walk.total; offset += 2)
      paged.push(...(await total(backend, { begin: T0, end: T0 + 24 * HOUR, groupby: ["project_id"], offset, limit: 2 })).results);
    expect(paged.map((r) => [r.groups, r.qty, r.rate])).to.deep.equal(walk.results.map((r) => [r.groups, r.qty, r.rate]));
    for (const r of paged)
      expect({ qty: formatNanos(r.qty), rate: formatNanos(r.rate) }).to.deep.equal(
        expected(frames, (p) => p.groupby.project_id === r.groups.project_id),
      );
  });
});

describe("storage: partitions holding documents of template versions before 5, on the real node", () => {
  let backend: Backend;
  const legacyDoc = (id: string, qtyUnits: number, qtyNanos: number, priceUnits: number, priceNanos: number, at = T0) => ({
    "@timestamp": new Date(at).toISOString(),
    start: new Date(at).toISOString(),
    end: new Date(at + HOUR).toISOString(),
    type: "cpu",
    unit: "h",
    qty: qtyUnits + qtyNanos / 1e9,
    price: priceUnits + priceNanos / 1e9,
    qty_units: qtyUnits,
    qty_nanos: qtyNanos,
    price_units: priceUnits,
    price_nanos: priceNanos,
    point_id: id,
    groupby: { project_id: "p1" },
    metadata: {},
    metadata_kv: [],
  });

  before(async () => {
    backend = await freshBackend();
    // The release before: template version 4, whose documents hold whole and nano parts.
    const file = loadTemplateFile("points.template.json");
    const properties: Record<string, unknown> = {};
    for (const [field, mapping] of Object.entries(file.template.mappings.properties))
      if (!/_e\d+$/.test(field)) properties[field] = mapping;
    for (const field of ["qty_units", "qty_nanos", "price_units", "price_nanos"]) properties[field] = { type: "long", index: false };
    const v4 = buildPointsTemplate(
      // Version 4 stored every field in `_source` and indexed `point_id`.
      {
        ...file,
        version: 4,
        template: { ...file.template, mappings: { ...file.template.mappings, _source: { enabled: true }, properties } },
      },
      backend.partitions,
      backend.config,
      { docValueQueries: "none" },
    );
    await backend.client.request({ method: "PUT", path: `/_index_template/${backend.partitions.alias}`, body: v4 });
    const index = backend.partitions.indexFor(T0);
    await backend.client.request({ method: "PUT", path: `/${index}` });
    const docs = [legacyDoc("legacy-1", 2, 500_000_000, 0, 100_000_001), legacyDoc("legacy-2", -1, -250_000_000, 0, -1)];
    // In the next hour, old documents whose whole parts sum past 2^53: 11 × 999,999,999,999,999.
    for (let i = 0; i < 11; i++) docs.push(legacyDoc(`legacy-big-${i}`, 999_999_999_999_999, 0, 1, 0, T0 + HOUR));
    const body = docs.map((d) => `${JSON.stringify({ create: { _index: index, _id: d.point_id } })}\n${JSON.stringify(d)}\n`).join("");
    const res = await backend.client.request<{ errors: boolean }>({
      method: "POST",
      path: "/_bulk",
      querystring: { refresh: "true" },
      bulkBody: body,
    });
    expect(res.body.errors).to.equal(false);
    // This release starts: it moves the template to version 5 and adds the limb fields to the partition.
    await backend.init();
    const pushed = await backend.push([{ begin: T0, end: T0 + HOUR, points: [point("p1", "0.75", "1000000.000000001", "cpu")] }], {
      refresh: true,
    });
    expect(pushed.stored).to.equal(1);
  });
  after(async () => backend.drop());

  it("sums old and new documents of one partition together, exactly", async () => {
    const r = await total(backend, { begin: T0, end: T0 + HOUR, groupby: ["project_id"] });
    expect(r.results.map((row) => [formatNanos(row.qty), formatNanos(row.rate)])).to.deep.equal([["2", "1000000.100000001"]]);
    const ungrouped = await total(backend, { begin: T0, end: T0 + HOUR });
    expect(formatNanos(ungrouped.results[0]!.rate)).to.equal("1000000.100000001");
  });

  it("refuses, rather than rounds, a total of old documents past 2^53", async () => {
    const err = await total(backend, { begin: T0 + HOUR, end: T0 + 2 * HOUR, groupby: ["project_id"] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InexactTotalError);
    expect((err as Error).message).to.match(/before template version 5.*past 2\^53/);
  });

  it("reads both kinds of document back with their exact amounts", async () => {
    const r = await retrieve(backend, { begin: T0, end: T0 + HOUR, paginate: false });
    const amounts = r.dataframes.flatMap((df) => df.points.map((p) => `${formatNanos(p.qty)}/${formatNanos(p.price)}`)).sort();
    expect(amounts).to.deep.equal(["-1.25/-0.000000001", "0.75/1000000.000000001", "2.5/0.100000001"]);
  });

  // Last: the test service drops the prefix when it closes.
  it("over HTTP, the refused total is a 500 inexact_total naming the group, in the JSON error shape", async () => {
    const api = await startApi({}, undefined, { indexPrefix: backend.config.indexPrefix });
    try {
      const iso = (ms: number) => new Date(ms).toISOString();
      const res = await api.call(`/v2/summary?begin=${iso(T0 + HOUR)}&end=${iso(T0 + 2 * HOUR)}&groupby=project_id`);
      expect(res.status).to.equal(500);
      const body = (await res.json()) as { error: string; message: string; details: unknown[] };
      expect(body.error).to.equal("inexact_total");
      expect(body.message).to.match(/"project_id":"p1".*past 2\^53/);
    } finally {
      await api.close();
    }
  });
});
