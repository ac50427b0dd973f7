/**
 * What exact sums cost a summary: ratestore's totals (limb sums, exact at any scale) against the
 * four-sum pass of the release before (whole and nano parts, exact only below 2^53), on a realistic
 * month loaded twice into the same node, once in each document form.
 */
import type { Client } from "@opensearch-project/opensearch";
import { generateFrames, type GenerateOptions } from "../src/cli/generate.js";
import type { StorageConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { DataFrameInputSchema, type DataFrame } from "../src/storage/dataframe.js";
import { formatNanos } from "../src/storage/decimal.js";
import { SUM_AGGREGATIONS } from "../src/storage/search-engine/aggregations.js";
import { SearchEngineBackend } from "../src/storage/search-engine/backend.js";
import { contentKey, documentJson, periodTexts, pointId } from "../src/storage/search-engine/documents.js";
import { selectionQuery } from "../src/storage/search-engine/query.js";
import { buildPointsTemplate, loadTemplateFile } from "../src/storage/search-engine/templates.js";
import { total } from "../src/storage/reads.js";

/** The month of the rollup issue: 720 hourly periods of 2,000 resources in 100 projects, 1.44 M points. */
export const MONTH: GenerateOptions = {
  points: 1_440_000,
  projects: 100,
  resourcesPerProject: 20,
  metadataCardinality: 5,
  periodSeconds: 3600,
  start: Date.parse("2024-06-01T00:00:00Z"),
  seed: 11,
};

/** The sums of the release before, over the whole and nano parts of each amount. */
const FOUR_SUMS = {
  qu: { sum: { field: "qty_units" } },
  qn: { sum: { field: "qty_nanos" } },
  pu: { sum: { field: "price_units" } },
  pn: { sum: { field: "price_nanos" } },
};

/** An amount's whole and nano parts, of its sign, as template versions before 5 stored them. */
function parts(n: bigint): [number, number] {
  const text = formatNanos(n);
  const negative = text.startsWith("-");
  const [whole = "0", frac = ""] = text.replace("-", "").split(".");
  const units = Number(whole);
  const nanos = Number(frac.padEnd(9, "0"));
  return [negative ? -units : units, negative ? -nanos : nanos];
}

/** The document of the release before: the same document with whole and nano parts instead of limbs. */
function legacyDocumentJson(df: DataFrame, p: DataFrame["points"][number], id: string): string {
  const doc = Object.fromEntries(
    Object.entries(JSON.parse(documentJson(periodTexts(df), p, id)) as Record<string, unknown>).filter(([k]) => !/_e\d+$/.test(k)),
  );
  [doc.qty_units, doc.qty_nanos] = parts(p.qty);
  [doc.price_units, doc.price_nanos] = parts(p.price);
  return JSON.stringify(doc);
}

interface Say {
  (line?: string): void;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function exactSumsBench(
  raw: Client,
  base: StorageConfig,
  say: Say,
  gen: GenerateOptions = MONTH,
  runs = 7,
): Promise<Record<string, unknown>> {
  const logger = createLogger("warn");
  const exact = new SearchEngineBackend({ ...base, indexPrefix: "bench-exact" }, logger);
  const legacy = new SearchEngineBackend({ ...base, indexPrefix: "bench-legacy" }, logger);
  for (const b of [exact, legacy]) {
    await raw.transport.request({ method: "DELETE", path: `/${b.config.indexPrefix}-*` }, { ignore: [404] });
    await raw.transport.request({ method: "DELETE", path: `/_index_template/${b.partitions.alias}` }, { ignore: [404] });
  }
  await exact.init();
  // The release before's template (version 4): the same mapping with whole and nano parts instead of limbs.
  const file = loadTemplateFile("points.template.json");
  const properties: Record<string, unknown> = {};
  for (const [field, mapping] of Object.entries(file.template.mappings.properties)) if (!/_e\d+$/.test(field)) properties[field] = mapping;
  for (const field of Object.keys(FOUR_SUMS).map((k) => ({ qu: "qty_units", qn: "qty_nanos", pu: "price_units", pn: "price_nanos" })[k]!))
    properties[field] = { type: "long", index: false };
  const v4 = buildPointsTemplate(
    // Version 4 stored every field in `_source` and indexed `point_id`.
    {
      ...file,
      version: 4,
      template: { ...file.template, mappings: { ...file.template.mappings, _source: { enabled: true }, properties } },
    },
    legacy.partitions,
    legacy.config,
    { docValueQueries: "none", metadataMapping: "none" },
  );
  await raw.transport.request({ method: "PUT", path: `/_index_template/${legacy.partitions.alias}`, body: v4 });

  // Both copies by raw `_bulk` of the same points with the same ids, 2,000 documents a request.
  let points = 0;
  const started = performance.now();
  for (const frame of generateFrames(gen)) {
    const df = DataFrameInputSchema.parse(frame);
    let exactBody = "";
    let legacyBody = "";
    for (const p of df.points) {
      const id = pointId(contentKey(df.begin, df.end, p), 0);
      exactBody += `${JSON.stringify({ create: { _index: exact.partitions.partitionOf(df), _id: id } })}\n${documentJson(periodTexts(df), p, id)}\n`;
      legacyBody += `${JSON.stringify({ create: { _index: legacy.partitions.partitionOf(df), _id: id } })}\n${legacyDocumentJson(df, p, id)}\n`;
      points++;
    }
    for (const body of [exactBody, legacyBody]) {
      const res = await raw.transport.request({ method: "POST", path: "/_bulk", bulkBody: body });
      if ((res.body as { errors: boolean }).errors) throw new Error("bulk had item errors");
    }
  }
  for (const b of [exact, legacy]) {
    await raw.transport.request({ method: "POST", path: `/${b.partitions.alias}/_refresh` });
    // One segment each and no request cache: both copies are read alike, and every run is computed.
    await raw.transport.request({ method: "POST", path: `/${b.partitions.alias}/_forcemerge`, querystring: { max_num_segments: 1 } });
    await raw.transport.request({
      method: "PUT",
      path: `/${b.partitions.pattern}/_settings`,
      body: { "index.requests.cache.enable": false },
    });
  }
  const sizes = async (b: SearchEngineBackend) => {
    const rows = (
      await raw.transport.request({
        method: "GET",
        path: `/_cat/indices/${b.partitions.pattern}`,
        querystring: { format: "json", bytes: "b", h: "pri.store.size" },
      })
    ).body as { "pri.store.size": string }[];
    return rows.reduce((n, r) => n + Number(r["pri.store.size"]), 0) / 2 ** 20;
  };
  const loadSeconds = (performance.now() - started) / 1000;

  const window = {
    begin: gen.start,
    end: gen.start + Math.ceil(gen.points / (gen.projects * gen.resourcesPerProject)) * gen.periodSeconds * 1000,
  };
  // The query the service sends for the window, so that the requests differ only by their sums.
  const query = selectionQuery(window);
  const search = async (alias: string, body: object) =>
    (await raw.transport.request({ method: "POST", path: `/${alias}/_search`, body })).body as {
      aggregations?: { g?: { after_key?: unknown; buckets: unknown[] } };
    };
  /** Every composite page of 10,000 groups, as a full walk reads them. */
  const rawTotal = async (alias: string, groupby: readonly string[], aggs: object) => {
    if (groupby.length === 0) return void (await search(alias, { size: 0, track_total_hits: false, query, aggs }));
    const sources = groupby.map((g, i) => ({
      [`g${i}`]: { terms: { field: g === "type" ? "type" : `groupby.${g}`, missing_bucket: g !== "type" } },
    }));
    let after: unknown;
    for (;;) {
      const res = await search(alias, {
        size: 0,
        track_total_hits: false,
        query,
        aggs: { g: { composite: { size: 10_000, sources, ...(after ? { after } : {}) }, aggs } },
      });
      after = res.aggregations?.g?.after_key;
      if (!after || (res.aggregations?.g?.buckets.length ?? 0) < 10_000) return;
    }
  };
  const time = async (fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  say(`### A month of ${points.toLocaleString("en-US")} points: every group (\`paginate=false\`), ms, median of ${runs} interleaved runs`);
  say();
  say(
    `Loaded twice by raw \`_bulk\` (${loadSeconds.toFixed(0)} s for both), one segment each: in this release's documents (limb fields, ${(await sizes(exact)).toFixed(1)} MB) and in the release before's (whole and nano parts, ${(await sizes(legacy)).toFixed(1)} MB).`,
  );
  say();
  say(
    "| groupby | groups | ratestore `total()` (exact) | its request straight to the node (8 limb sums + 4 of the release before) | the release before's four sums straight to the node (its documents) | no sums | exact over four sums |",
  );
  say("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  const out: Record<string, unknown> = { points, loadSeconds };
  for (const groupby of [["project_id"], ["project_id", "type"], [], ["id"]]) {
    const ms = { service: [] as number[], exactRaw: [] as number[], fourSums: [] as number[], bare: [] as number[] };
    let groups = 0;
    for (let run = 0; run <= runs; run++) {
      const service = await time(async () => (groups = (await total(exact, { ...window, groupby, paginate: false })).results.length));
      const exactRaw = await time(() => rawTotal(exact.partitions.alias, groupby, SUM_AGGREGATIONS));
      const fourSums = await time(() => rawTotal(legacy.partitions.alias, groupby, FOUR_SUMS));
      const bare = await time(() => rawTotal(exact.partitions.alias, groupby, {}));
      if (run === 0) continue; // warm-up
      ms.service.push(service);
      ms.exactRaw.push(exactRaw);
      ms.fourSums.push(fourSums);
      ms.bare.push(bare);
    }
    const m = { service: median(ms.service), exactRaw: median(ms.exactRaw), fourSums: median(ms.fourSums), bare: median(ms.bare) };
    out[groupby.join(",") || "(none)"] = { groups, ...m, runs: ms };
    say(
      `| ${groupby.join(", ") || "(none)"} | ${groups.toLocaleString("en-US")} | ${m.service.toFixed(0)} | ${m.exactRaw.toFixed(0)} | ${m.fourSums.toFixed(0)} | ${m.bare.toFixed(0)} | ${(m.service / m.fourSums).toFixed(2)} |`,
    );
  }
  say();
  for (const b of [exact, legacy]) await b.close();
  return out;
}
