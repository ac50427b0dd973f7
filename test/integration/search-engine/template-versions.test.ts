import { expect } from "chai";
import { InexactTotalError } from "../../../src/errors.js";
import { formatNanos } from "../../../src/storage/decimal.js";
import { buildPointsTemplate, loadTemplateFile } from "../../../src/storage/search-engine/templates.js";
import { startApi } from "../../support/api.js";
import { freshBackend } from "../../support/cluster.js";
import { HOUR, T0, amountPoint as point } from "../../support/data.js";
import { retrieve, total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;

forEachEngine("storage: partitions holding documents of template versions before 5, on the real node", () => {
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
      { docValueQueries: "none", metadataMapping: "none" },
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
