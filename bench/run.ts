/**
 * npm run bench: ratestore against the physical limit of the same OpenSearch node, in one run.
 * Every figure is a ratio against a baseline measured in this run, or a latency distribution over
 * repeated runs. Results: a table on stdout, bench/results/latest.json, and the results section of
 * BENCHMARKS.md (between the bench markers).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { Client } from "@opensearch-project/opensearch";
import { loadConfig, type StorageConfig } from "../src/config.js";
import { generateFrames, type GenerateOptions } from "../src/cli/generate.js";
import { createLogger } from "../src/logger.js";
import { DataFrameInputSchema, type DataFrame } from "../src/storage/dataframe.js";
import { migrate } from "../src/cli/migrate.js";
import { openCloudKittySource } from "../src/storage/backends.js";
import { SUM_AGGREGATIONS } from "../src/storage/search-engine/aggregations.js";
import { SearchEngineBackend } from "../src/storage/search-engine/backend.js";
import { exactSumsBench, MONTH } from "./exact-sums.js";
import { datasetFile, startCloudKitty } from "./cloudkitty.js";
import { withConcurrency } from "./concurrency.js";
import { rollupsBench } from "./rollups.js";
import { contentKey, documentJson, periodTexts, pointId } from "../src/storage/search-engine/documents.js";
import type { PointCursor } from "../src/storage/backend.js";
import { retrieve, total } from "../src/storage/reads.js";

/**
 * `npm run bench` is the full run (1,000,000 points, recorded in BENCHMARKS.md); `npm run bench:quick`
 * (BENCH_MODE=quick) is a check of every figure in under 5 minutes here, written to
 * bench/results/quick.json only.
 */
const QUICK = process.env.BENCH_MODE === "quick";
const POINTS = Number(process.env.BENCH_POINTS ?? (QUICK ? 50_000 : 1_000_000));
const ROUNDS = QUICK ? 3 : 5;
const BATCH_POINTS = 5000;
const PORT = Number(process.env.BENCH_OS_PORT ?? 9260);
const SERVICE_PORT = 18080;
const GEN: GenerateOptions = {
  points: POINTS,
  projects: 1000,
  resourcesPerProject: 100, // 100,000 distinct resource ids per period
  metadataCardinality: 5,
  periodSeconds: 3600,
  start: Date.parse("2024-01-01T00:00:00Z"),
  seed: 7,
};

const logger = createLogger("warn");
const results: Record<string, unknown> = {};
/** Every ratio of the run under one key each, with its goal where the project has one. */
const ratios: Record<string, { value: number; goal?: number; met?: boolean }> = {};
function ratio(key: string, value: number, goal?: number): number {
  ratios[key] = { value, ...(goal !== undefined ? { goal, met: value >= goal } : {}) };
  return value;
}
const lines: string[] = [];
const say = (s = "") => {
  console.log(s);
  lines.push(s);
};
/** The exact-sums section has a block of its own in BENCHMARKS.md: `BENCH_ONLY=exact-sums` runs it alone. */
const sumsLines: string[] = [];
const saySums = (s = "") => {
  console.log(s);
  sumsLines.push(s);
};

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` of BENCHMARKS.md. */
function rewriteBlock(name: string, text: readonly string[]): void {
  const md = readFileSync("BENCHMARKS.md", "utf8");
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  if (md.includes(start) && md.includes(end))
    writeFileSync(
      "BENCHMARKS.md",
      md.slice(0, md.indexOf(start) + start.length) + "\n" + text.join("\n") + "\n" + md.slice(md.indexOf(end)),
    );
}

function stopProvisioned(): void {
  if (!process.env.RATESTORE_CLUSTER_URL && process.env.BENCH_KEEP_OPENSEARCH !== "1") {
    execFileSync("bash", ["scripts/engine-local.sh", "stop"], {
      env: { ...process.env, RATESTORE_ENGINE_PORT: String(PORT) },
      stdio: "inherit",
    });
  }
}

/** The exact-sums section: a month at full scale, a smaller one in quick mode. */
async function exactSums(raw: Client, base: StorageConfig): Promise<void> {
  const gen = QUICK ? { ...MONTH, points: 100_000 } : MONTH;
  saySums(`Run of ${new Date().toISOString().slice(0, 10)}, ${QUICK ? "quick mode" : "full scale"}.`);
  saySums();
  results.exactSums = await exactSumsBench(raw, base, saySums, gen, QUICK ? 3 : 7);
  mkdirSync("bench/results", { recursive: true });
  if (!QUICK) rewriteBlock("bench:exact-sums", sumsLines);
}

/** The rollups section (a block of its own in BENCHMARKS.md): `BENCH_ONLY=rollups` runs it alone. */
const rollupLines: string[] = [];
const sayRollups = (s = "") => {
  console.log(s);
  rollupLines.push(s);
};

async function rollups(base: StorageConfig, raw: Client): Promise<void> {
  const small = { projects: 10, resourcesPerProject: 10 };
  const month = QUICK ? { ...MONTH, ...small, points: 100 * 720 } : MONTH;
  const year = { ...MONTH, ...(QUICK ? small : {}), periodSeconds: 86_400, start: Date.parse("2023-01-01T00:00:00Z"), seed: 13 };
  const yearPoints = year.projects * year.resourcesPerProject * 365;
  sayRollups(`Run of ${new Date().toISOString().slice(0, 10)}, ${QUICK ? "quick mode" : "full scale"}.`);
  sayRollups();
  const cloudkitty = startCloudKitty();
  try {
    results.rollups = await rollupsBench(raw, base, cloudkitty, sayRollups, ratio, {
      month,
      year: { ...year, points: yearPoints },
      runs: QUICK ? 3 : 7,
      rounds: QUICK ? 3 : 5,
    });
  } finally {
    cloudkitty.close();
  }
  if (!QUICK) rewriteBlock("bench:rollups", rollupLines);
}

function stats(ms: number[]): { p50: number; p95: number; p99: number; n: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), n: s.length };
}
const f1 = (x: number) => x.toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

/** `n` timed runs after a warm-up (run 0, not counted); `fn` is told which run it is. */
async function repeat(n: number, fn: (run: number) => Promise<unknown>): Promise<ReturnType<typeof stats>> {
  await fn(0);
  const ms: number[] = [];
  for (let run = 1; run <= n; run++) ms.push((await timed(() => fn(run)))[0]);
  return stats(ms);
}

/**
 * The offset of run `run` of a question about pages near `offset`: each run asks for a page of its own,
 * as a user paging does. The same question asked again is answered partly from the node's query cache
 * (a point-id range filter cached after two uses: its `_count` fell from 100-245 ms to 8-12 ms), which
 * measured the cache, not the reader.
 */
const OFFSET_STEP = 137;
const offsetOfRun = (offset: number, run: number) => offset + run * OFFSET_STEP;

function provision(): string {
  if (process.env.RATESTORE_CLUSTER_URL) return process.env.RATESTORE_CLUSTER_URL;
  execFileSync("bash", ["scripts/engine-local.sh", "start"], {
    env: { ...process.env, RATESTORE_ENGINE_PORT: String(PORT), RATESTORE_ENGINE_HEAP: process.env.BENCH_OS_HEAP ?? "2g" },
    stdio: "inherit",
  });
  return `http://127.0.0.1:${PORT}`;
}

/** The generated dataset as batches of whole-period slices of at most BATCH_POINTS points, in wire and normalized form. */
function* batches(gen: GenerateOptions = GEN, size = BATCH_POINTS): Generator<{ wire: string; frames: DataFrame[]; points: number }> {
  for (const frame of generateFrames(gen)) {
    const entries = Object.entries(frame.usage).flatMap(([type, list]) => list.map((p) => [type, p] as const));
    for (let i = 0; i < entries.length; i += size) {
      const usage: Record<string, unknown[]> = {};
      for (const [type, p] of entries.slice(i, i + size)) (usage[type] ??= []).push(p);
      const wire = { period: frame.period, usage };
      const parsed = DataFrameInputSchema.parse(wire);
      yield { wire: JSON.stringify({ dataframes: [wire] }), frames: [parsed], points: parsed.points.length };
    }
  }
}

/** The bodies the service itself would send, prepared in advance: raw `_bulk` then measures only the cluster. */
function bulkBodies(frames: readonly DataFrame[], index: (begin: number) => string, perRequest = 2000): string[] {
  const bodies: string[] = [];
  let body = "";
  let n = 0;
  for (const df of frames) {
    for (const p of df.points) {
      const id = pointId(contentKey(df.begin, df.end, p), 0);
      body += `${JSON.stringify({ create: { _index: index(df.begin), _id: id } })}\n${documentJson(periodTexts(df), p, id)}\n`;
      if (++n % perRequest === 0) {
        bodies.push(body);
        body = "";
      }
    }
  }
  if (body) bodies.push(body);
  return bodies;
}

function startService(url: string, storage: StorageConfig): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["dist/main.js"], {
    env: {
      ...process.env,
      RATESTORE_CLUSTER_URL: url,
      RATESTORE_CURSOR_SECRET: "bench-only-secret-0123456789",
      RATESTORE_INDEX_SORT: storage.indexSort ? "true" : "false",
      RATESTORE_INDEX_CODEC: storage.indexCodec,
      PORT: String(SERVICE_PORT),
      RATESTORE_INDEX_PREFIX: storage.indexPrefix,
      RATESTORE_AUTH: "none",
      RATESTORE_LOG_LEVEL: "warn",
      RATESTORE_RETENTION_HOURS: String(24 * 365 * 50),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    // A service left over from an earlier run would answer the health check in this one's place.
    let exited = false;
    child.once("exit", (code) => {
      exited = true;
      reject(new Error(`the service exited with ${code} before it was ready (is port ${SERVICE_PORT} taken?)`));
    });
    const poll = async () => {
      if (exited) return;
      try {
        if ((await fetch(`http://127.0.0.1:${SERVICE_PORT}/healthz`)).ok) return resolve(child);
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) return reject(new Error("service did not start"));
      setTimeout(poll, 200);
    };
    void poll();
  });
}

/**
 * CloudKitty 25.0.0's real OpenSearchStorage, run by test/python/cloudkitty_storage.py in the driver's test
 * venv: it loads the same generated dataset into an index of its own on the same node with its own
 * push(), then the same questions are timed on both sides (each side's p50 over the same runs).
 */
async function cloudkittyBaseline(
  url: string,
  ours: SearchEngineBackend,
  window: { begin: number; end: number },
): Promise<Record<string, unknown>> {
  const dataset = datasetFile(GEN);
  const cloudkitty = startCloudKitty();
  const ask = cloudkitty.ask;
  const iso = (ms: number) => new Date(ms).toISOString();
  const span = { begin: iso(window.begin), end: iso(window.end) };
  try {
    await ask({ op: "init", url, index: "bench-cloudkitty", fresh: true, create: true });
    const load = await ask({ op: "load", path: dataset });
    // The settings ratestore's partitions are measured with: without this, CloudKitty's repeated
    // identical aggregations were answered from the shard request cache (a 336 ms composite page took
    // 16 ms), and its summaries measured the cache, not its backend.
    await ours.client.request({ method: "PUT", path: "/bench-cloudkitty/_settings", body: { "index.requests.cache.enable": false } });
    say(
      `## Against CloudKitty's own backend (cloudkitty 25.0.0 \`OpenSearchStorage\`, same node, same ${fmt(Number(load.points))} points)`,
    );
    say();
    say(
      `CloudKitty's \`push()\` loaded them into its own index in ${f1(Number(load.seconds))} s. Latency in ms, p50 over the same number of runs on each side.`,
    );
    say();
    say("| question | ratestore p50 | CloudKitty p50 | CloudKitty / ratestore | goal | met |");
    say("| --- | ---: | ---: | ---: | ---: | --- |");
    const rows: Record<string, unknown> = { load };
    const compare = async (
      name: string,
      goal: number,
      runs: number,
      oursFn: (run: number) => Promise<unknown>,
      theirs: Record<string, unknown>,
    ) => {
      const a = await repeat(runs, oursFn);
      const { op: call, ...args } = theirs;
      const b = (await ask({ op: "timed", call, runs, ...args })) as { ms: number[] };
      const ck = stats(b.ms).p50;
      const r = ratio(
        `cloudkitty_over_ratestore.${name
          .replace(/[^a-z0-9]+/gi, "_")
          .replace(/^_|_$/g, "")
          .toLowerCase()}`,
        ck / a.p50,
        goal,
      );
      rows[name] = { ratestore: a, cloudkitty: stats(b.ms), ratio: r, goal };
      say(`| ${name} | ${f1(a.p50)} | ${f1(ck)} | ${r.toFixed(2)} | ≥ ${goal} | ${r >= goal ? "yes" : "**no**"} |`);
    };
    await compare(
      "summary by project_id, type: every group",
      3,
      3,
      () => total(ours, { ...window, groupby: ["project_id", "type"], paginate: false }),
      { op: "total", ...span, groupby: ["project_id", "type"], paginate: false, limit: 1000 },
    );
    await compare(
      "summary by project_id, type: first page of 100",
      1,
      5,
      () => total(ours, { ...window, groupby: ["project_id", "type"], limit: 100 }),
      { op: "total", ...span, groupby: ["project_id", "type"], paginate: true, limit: 100 },
    );
    await compare("retrieve page 1 (limit 100)", 1, 10, () => retrieve(ours, { ...window, limit: 100 }), {
      op: "retrieve",
      ...span,
      offset: 0,
      limit: 100,
      paginate: true,
    });
    // Deep pages: run k of each side asks at offset + k * OFFSET_STEP (see offsetOfRun).
    await compare(
      "retrieve at offset 10,000",
      10,
      5,
      (run) => retrieve(ours, { ...window, offset: offsetOfRun(10_000, run), limit: 100 }),
      {
        op: "retrieve",
        ...span,
        offset: 10_000,
        step: OFFSET_STEP,
        limit: 100,
        paginate: true,
      },
    );
    if (Number(load.points) > offsetOfRun(100_000, 3) + 100) {
      await compare(
        "retrieve at offset 100,000",
        10,
        3,
        (run) => retrieve(ours, { ...window, offset: offsetOfRun(100_000, run), limit: 100 }),
        { op: "retrieve", ...span, offset: 100_000, step: OFFSET_STEP, limit: 100, paginate: true },
      );
    }
    say();
    rows.migration = await migrationBench(url, ours.config, "bench-cloudkitty", Number(load.points));
    return rows;
  } finally {
    cloudkitty.close();
  }
}

/**
 * `ratestore migrate` of CloudKitty's index (written above by CloudKitty's own push) against the raw
 * floor on the same node: a scroll of the same index plus `_bulk` of its documents as they are. Run twice
 * on our side, with and without the `.keyword` sub-fields that let CloudKitty read ratestore's
 * partitions, which also gives their index-size cost.
 */
async function migrationBench(url: string, config: StorageConfig, index: string, points: number): Promise<Record<string, unknown>> {
  const raw = new Client({ node: url });
  const copy = "bench-raw-copy";
  await raw.transport.request({ method: "DELETE", path: `/${copy}` }, { ignore: [404] });
  await raw.transport.request({ method: "PUT", path: `/${copy}`, body: { settings: { number_of_shards: 1, number_of_replicas: 0 } } });
  const [rawMs, copied] = await timed(async () => {
    let n = 0;
    let res = (
      await raw.transport.request({
        method: "POST",
        path: `/${index}/_search`,
        querystring: { scroll: "5m" },
        body: { size: 5000, sort: ["_doc"] },
      })
    ).body as { _scroll_id: string; hits: { hits: { _source: unknown }[] } };
    while (res.hits.hits.length > 0) {
      const body = res.hits.hits.map((h) => `{"index":{}}\n${JSON.stringify(h._source)}\n`).join("");
      await raw.transport.request({ method: "POST", path: `/${copy}/_bulk`, bulkBody: body });
      n += res.hits.hits.length;
      res = (await raw.transport.request({ method: "POST", path: "/_search/scroll", body: { scroll: "5m", scroll_id: res._scroll_id } }))
        .body as typeof res;
    }
    await raw.transport.request({ method: "POST", path: `/${copy}/_refresh` });
    return n;
  });
  const ours: Record<string, { seconds: number; stored: number; bytes: number }> = {};
  for (const fields of [true, false]) {
    const prefix = `bm-mig-${fields ? "ck" : "plain"}`;
    await raw.transport.request({ method: "DELETE", path: `/${prefix}-*` }, { ignore: [404] });
    await raw.transport.request({ method: "DELETE", path: `/_index_template/${prefix}-points` }, { ignore: [404] });
    const target = new SearchEngineBackend(
      { ...config, indexPrefix: prefix, cloudkittyFields: fields, retentionMechanism: "none" },
      createLogger("warn"),
    );
    await target.init();
    const dir = mkdtempSync(join(tmpdir(), "ratestore-bench-migrate-"));
    const source = openCloudKittySource({ ...config.cluster, urls: [url] }, index);
    const [ms, summary] = await timed(() =>
      migrate({
        source,
        index,
        target,
        window: {},
        rejectPath: join(dir, "rejects.ndjson"),
        restart: true,
        batchPoints: 5000,
        progress: false,
      }),
    );
    // One segment per partition, flushed, and the primaries' store read once the merged-away files are gone.
    await raw.transport.request({
      method: "POST",
      path: `/${prefix}-points-*/_forcemerge`,
      querystring: { max_num_segments: 1, flush: true },
    });
    await raw.transport.request({ method: "POST", path: `/${prefix}-points-*/_flush`, querystring: { force: true } });
    await new Promise((r) => setTimeout(r, 2000));
    const store = (await raw.transport.request({ method: "GET", path: `/${prefix}-points-*/_stats/store` })).body as {
      _all: { primaries: { store: { size_in_bytes: number } } };
    };
    ours[fields ? "withCloudKittyFields" : "withoutCloudKittyFields"] = {
      seconds: ms / 1000,
      stored: summary.stored,
      bytes: store._all.primaries.store.size_in_bytes,
    };
    await source.close();
    await target.close();
  }
  await raw.close();
  const withFields = ours.withCloudKittyFields!;
  const without = ours.withoutCloudKittyFields!;
  const migrateRatio = ratio("migrate_over_raw_scroll_and_bulk", rawMs / 1000 / withFields.seconds);
  ratio("cloudkitty_fields_size_cost", (withFields.bytes - without.bytes) / without.bytes);
  say(`### \`ratestore migrate\` of CloudKitty's index (${fmt(points)} points)`);
  say();
  say("| path | seconds | points/s | ratio to raw scroll + `_bulk` | partition size after force-merge |");
  say("| --- | ---: | ---: | ---: | ---: |");
  say(
    `| raw: scroll of the CloudKitty index + \`_bulk\` of its documents as they are | ${f1(rawMs / 1000)} | ${fmt(copied / (rawMs / 1000))} | 1.00 | |`,
  );
  say(
    `| \`ratestore migrate\` (with \`.keyword\` sub-fields, the default) | ${f1(withFields.seconds)} | ${fmt(withFields.stored / withFields.seconds)} | ${migrateRatio.toFixed(2)} | ${f1(withFields.bytes / 2 ** 20)} MiB |`,
  );
  say(
    `| \`ratestore migrate\`, \`RATESTORE_CLOUDKITTY_FIELDS=false\` | ${f1(without.seconds)} | ${fmt(without.stored / without.seconds)} | ${(rawMs / 1000 / without.seconds).toFixed(2)} | ${f1(without.bytes / 2 ** 20)} MiB |`,
  );
  say();
  say(
    `The \`.keyword\` sub-fields (doc values only) cost ${(((withFields.bytes - without.bytes) / without.bytes) * 100).toFixed(1)} % of the partitions' size here. Migration includes the verification's source scan only when run from the CLI; here it is the copy alone.`,
  );
  say();
  return {
    raw: { seconds: rawMs / 1000, documents: copied },
    ...ours,
    ratioToRawScrollAndBulk: migrateRatio,
    cloudkittyFieldsSizeCost: (withFields.bytes - without.bytes) / without.bytes,
  };
}

function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

async function main(): Promise<void> {
  const started = Date.now();
  const url = provision();
  const raw = new Client({ node: url });
  const info = (await raw.info()).body as { version: { number: string; distribution?: string } };
  const indexSort = process.env.BENCH_INDEX_SORT === "true" ? "true" : "false";
  const indexCodec = process.env.BENCH_INDEX_CODEC === "best_compression" ? "best_compression" : "default";
  const base = loadConfig({
    RATESTORE_CLUSTER_URL: url,
    RATESTORE_RETENTION_HOURS: String(24 * 365 * 50),
    RATESTORE_INDEX_SORT: indexSort,
    RATESTORE_INDEX_CODEC: indexCodec,
  }).storage;
  // Every path runs on the service's default index settings (refresh 1s...), the ones operators get.
  if (process.env.BENCH_ONLY === "rollups") {
    await rollups(base, raw);
    results.ratios = ratios;
    mkdirSync("bench/results", { recursive: true });
    writeFileSync(QUICK ? "bench/results/rollups-quick.json" : "bench/results/rollups.json", JSON.stringify(results, null, 2));
    await raw.close();
    return stopProvisioned();
  }
  if (process.env.BENCH_ONLY === "exact-sums") {
    await exactSums(raw, base);
    writeFileSync(QUICK ? "bench/results/exact-sums-quick.json" : "bench/results/exact-sums.json", JSON.stringify(results, null, 2));
    await raw.close();
    return stopProvisioned();
  }
  const mk = (prefix: string) => new SearchEngineBackend({ ...base, indexPrefix: prefix }, logger);
  // A fresh run: the three prefixes start empty.
  for (const p of ["bench-raw", "bench-push", "bench-http"]) {
    await raw.transport.request({ method: "DELETE", path: `/${p}-*` }, { ignore: [404] });
    await raw.transport.request({ method: "DELETE", path: `/_index_template/${p}-points` }, { ignore: [404] });
  }
  const rawB = mk("bench-raw");
  const pushB = mk("bench-push");
  const httpB = mk("bench-http");
  for (const b of [rawB, pushB, httpB]) await b.init();

  say(`# ratestore benchmark, ${new Date().toISOString().slice(0, 10)}`);
  say();
  say(
    `Index sorting: ${indexSort === "true" ? "on (RATESTORE_INDEX_SORT=true)" : "off (the default)"}. Stored-fields codec: ${indexCodec}${indexCodec === "default" ? " (the default)" : " (RATESTORE_INDEX_CODEC=best_compression)"}.`,
  );
  say(
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB; ${info.version.distribution ?? "elasticsearch"} ${info.version.number} single node, heap ${process.env.BENCH_OS_HEAP ?? "2g"}, on the same machine.`,
  );
  say(
    `Dataset: ${fmt(POINTS)} points from \`ratestore generate\` (seed ${GEN.seed}): ${GEN.projects} projects, ${fmt(GEN.projects * GEN.resourcesPerProject)} resources (distinct \`id\`), 7 metric types, hourly periods of ${fmt(GEN.projects * GEN.resourcesPerProject)} points.`,
  );
  say();

  // ---- Ingest: interleaved rounds, so drift on the node hits every path alike.
  const service = await startService(url, httpB.config);
  // Also when the run fails: a service left running would hold the port for the next run.
  process.once("exit", () => service.kill("SIGTERM"));
  // Batches are generated round by round: the whole dataset is never held in memory.
  const source = batches();
  const perRound = Math.ceil(POINTS / BATCH_POINTS / ROUNDS);
  const tput: Record<"raw" | "push" | "http", number[]> = { raw: [], push: [], http: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const slice: { wire: string; frames: DataFrame[]; points: number }[] = [];
    for (let i = 0; i < perRound; i++) {
      const next = source.next();
      if (next.done) break;
      slice.push(next.value);
    }
    const points = slice.reduce((n, b) => n + b.points, 0);
    const bodies = bulkBodies(
      slice.flatMap((b) => b.frames),
      (t) => rawB.partitions.indexFor(t),
    );
    const [rawMs] = await timed(() =>
      withConcurrency(bodies, 2, async (body) => {
        const res = await raw.transport.request({ method: "POST", path: "/_bulk", bulkBody: body });
        if ((res.body as { errors: boolean }).errors) throw new Error("raw bulk had item errors");
      }),
    );
    const [pushMs] = await timed(() => withConcurrency(slice, 2, async (b) => void (await pushB.push(b.frames))));
    const [httpMs] = await timed(() =>
      withConcurrency(slice, 2, async (b) => {
        const res = await fetch(`http://127.0.0.1:${SERVICE_PORT}/v2/dataframes`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: b.wire,
        });
        if (res.status !== 204) throw new Error(`POST /v2/dataframes answered ${res.status}: ${await res.text()}`);
      }),
    );
    tput.raw.push(points / (rawMs / 1000));
    tput.push.push(points / (pushMs / 1000));
    tput.http.push(points / (httpMs / 1000));
  }
  for (const b of [rawB, pushB, httpB]) await b.client.request({ method: "POST", path: `/${b.partitions.alias}/_refresh` });
  // Repeated identical aggregations would otherwise be answered from the shard request cache.
  await pushB.client.request({
    method: "PUT",
    path: `/${pushB.partitions.pattern}/_settings`,
    body: { "index.requests.cache.enable": false },
  });
  const med = (xs: number[]) => stats(xs).p50;
  const ingest = {
    rounds: ROUNDS,
    rawBulkPointsPerSecond: med(tput.raw),
    pushPointsPerSecond: med(tput.push),
    httpPointsPerSecond: med(tput.http),
    pushRatio: med(tput.push.map((p, i) => p / tput.raw[i]!)),
    httpRatio: med(tput.http.map((p, i) => p / tput.raw[i]!)),
  };
  results.ingest = ingest;
  ratio("push_over_raw_bulk", ingest.pushRatio);
  ratio("http_push_over_raw_bulk", ingest.httpRatio);
  say("## Ingest (points/s, median of 5 interleaved rounds; ratio = median of per-round ratios to raw `_bulk`)");
  say();
  say("| path | points/s | ratio to raw `_bulk` |");
  say("| --- | ---: | ---: |");
  say(`| raw \`_bulk\`, official client, prepared bodies (the limit) | ${fmt(ingest.rawBulkPointsPerSecond)} | 1.00 |`);
  say(`| \`push()\` (storage library) | ${fmt(ingest.pushPointsPerSecond)} | ${ingest.pushRatio.toFixed(2)} |`);
  say(`| \`POST /v2/dataframes\` (service in its own process) | ${fmt(ingest.httpPointsPerSecond)} | ${ingest.httpRatio.toFixed(2)} |`);
  say();

  // ---- The cost of read-your-writes: CloudKitty-sized pushes, one at a time, each mode in turn.
  const RYW_PUSHES = Number(process.env.BENCH_RYW_PUSHES ?? (QUICK ? 10 : 40));
  const RYW_POINTS = 1000;
  // raw_refresh: the raw `_bulk` then `_refresh` of the partition it wrote, the floor of any push that is
  // refreshed before it answers. "default": the API's push, read-your-writes paid by the next read.
  // raw_split: the same body as two requests of 500 sent at once, as the service sends a 1,000-point push.
  const modes = ["raw", "raw_split", "raw_refresh", "default", "true", "wait_for"] as const;
  type Mode = (typeof modes)[number];
  const rywSource = batches(
    { ...GEN, points: RYW_PUSHES * modes.length * RYW_POINTS, start: Date.parse("2025-01-01T00:00:00Z"), seed: 11 },
    RYW_POINTS,
  );
  const latency = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
  const rywPoints = Object.fromEntries(modes.map((m) => [m, 0])) as Record<Mode, number>;
  // What the reads pay instead: a page of the pushed period read right after a default push (the read
  // refreshes first), then the same page again (nothing left to refresh).
  const readAfterPush: number[] = [];
  const readAgain: number[] = [];
  // Points pushed through the API so far, by period: what a read of a period must count.
  const apiPushed = new Map<number, number>();
  const readAfterPushMissed: string[] = [];
  for (let i = 0; i < RYW_PUSHES; i++) {
    for (const mode of modes) {
      const b = rywSource.next();
      if (b.done) break;
      rywPoints[mode] += b.value.points;
      if (mode === "raw" || mode === "raw_split" || mode === "raw_refresh") {
        const indexOf = (t: number) => rawB.partitions.indexFor(t);
        const bodies = bulkBodies(b.value.frames, indexOf, mode === "raw_split" ? RYW_POINTS / 2 : RYW_POINTS);
        const [ms] = await timed(async () => {
          await Promise.all(bodies.map((body) => raw.transport.request({ method: "POST", path: "/_bulk", bulkBody: body })));
          if (mode === "raw_refresh")
            await raw.transport.request({ method: "POST", path: `/${indexOf(b.value.frames[0]!.begin)}/_refresh` });
        });
        latency[mode].push(ms);
      } else {
        const [ms] = await timed(async () => {
          const res = await fetch(`http://127.0.0.1:${SERVICE_PORT}/v2/dataframes${mode === "default" ? "" : `?refresh=${mode}`}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: b.value.wire,
          });
          if (res.status !== 204) throw new Error(`POST /v2/dataframes answered ${res.status}: ${await res.text()}`);
        });
        latency[mode].push(ms);
        for (const f of b.value.frames) apiPushed.set(f.begin, (apiPushed.get(f.begin) ?? 0) + f.points.length);
        if (mode === "default") {
          const frames = b.value.frames;
          const [begin, end] = [frames[0]!.begin, frames.at(-1)!.end];
          const expected = [...apiPushed].reduce((n, [at, points]) => (at >= begin && at < end ? n + points : n), 0);
          const page = `http://127.0.0.1:${SERVICE_PORT}/v2/dataframes?begin=${new Date(begin).toISOString()}&end=${new Date(end).toISOString()}&limit=100`;
          const read = async (into: number[]) => {
            const [ms, body] = await timed(async () => (await (await fetch(page)).json()) as { total: number });
            into.push(ms);
            if (body.total !== expected) readAfterPushMissed.push(`${body.total} of ${expected}`);
          };
          await read(readAfterPush);
          await read(readAgain);
        }
      }
    }
  }
  const tputOf = (mode: Mode) => rywPoints[mode] / (latency[mode].reduce((a, b) => a + b, 0) / 1000);
  const ryw: Record<string, unknown> = {};
  say(`## Read-your-writes: what it costs (${RYW_PUSHES} pushes of ${RYW_POINTS} points per mode, one at a time, modes interleaved)`);
  say();
  say(
    "Reads through the API see every push that answered before they started, on any instance, in every mode: each read first refreshes the partitions it reads. `refresh` says when readers of the indices outside the API (Dashboards, Kibana) see the points.",
  );
  say();
  say(
    "| path | visible to the API's reads | visible to direct readers of the indices | p50 ms | p99 ms | points/s | ratio to raw `_bulk` |",
  );
  say("| --- | --- | --- | ---: | ---: | ---: | ---: |");
  const label: Record<Mode, string> = {
    raw: "raw `_bulk` (prepared body, one request)",
    raw_split: "raw `_bulk`, the same body as two requests of 500 sent at once",
    raw_refresh: "raw `_bulk`, then `_refresh` of its partition (the floor of a push refreshed before it answers)",
    default: "`POST /v2/dataframes` (the default, `refresh=false`)",
    true: "`POST /v2/dataframes?refresh=true`",
    wait_for: "`POST /v2/dataframes?refresh=wait_for`",
  };
  const visible: Record<Mode, [string, string]> = {
    raw: ["(not through the API)", "within the refresh interval (1 s)"],
    raw_split: ["(not through the API)", "within the refresh interval (1 s)"],
    raw_refresh: ["(not through the API)", "when the answer comes"],
    default: ["when the answer comes", "within the refresh interval (1 s)"],
    true: ["when the answer comes", "when the answer comes"],
    wait_for: ["when the answer comes", "when the answer comes"],
  };
  const key: Record<Exclude<Mode, "raw">, string> = {
    raw_split: "raw_bulk_two_requests_over_raw_bulk",
    raw_refresh: "raw_bulk_then_refresh_over_raw_bulk",
    default: "http_push_read_your_writes_over_raw_bulk",
    true: "http_push_refresh_true_over_raw_bulk",
    wait_for: "http_push_refresh_wait_for_over_raw_bulk",
  };
  for (const mode of modes) {
    const st = stats(latency[mode]);
    const r = mode === "raw" ? 1 : ratio(key[mode], tputOf(mode) / tputOf("raw"), mode === "default" ? 0.85 : undefined);
    ryw[mode] = { ...st, pointsPerSecond: tputOf(mode), ratioToRawBulk: r };
    say(
      `| ${label[mode]} | ${visible[mode][0]} | ${visible[mode][1]} | ${f1(st.p50)} | ${f1(st.p99)} | ${fmt(tputOf(mode))} | ${r.toFixed(2)} |`,
    );
  }
  // The default push against the raw body sent the way the service sends it (two requests at once).
  ratio("http_push_read_your_writes_over_raw_bulk_two_requests", tputOf("default") / tputOf("raw_split"));
  const firstRead = stats(readAfterPush);
  const again = stats(readAgain);
  ryw.readAfterPush = firstRead;
  ryw.readAgain = again;
  results.readYourWrites = ryw;
  say();
  const seen = readAfterPushMissed.length === 0;
  say(
    `What the reads pay instead: a page of 100 of the period just pushed, read right after each default push, took ${f1(firstRead.p50)} ms at p50 (p99 ${f1(firstRead.p99)}), ` +
      `and the same page read again, with nothing left to refresh, ${f1(again.p50)} ms (p99 ${f1(again.p99)}). ` +
      `${seen ? "Every one of those reads counted every point pushed through the API into its period so far." : `NOT every read saw every push: ${readAfterPushMissed.join(", ")}.`} ` +
      `The refresh alone brings raw \`_bulk\` to ${(tputOf("raw_refresh") / tputOf("raw")).toFixed(2)} of itself here. ` +
      `A push of 1,000 points goes to the cluster as two bulk requests of 500 at once; against the raw body sent that way, the default push runs at ${(tputOf("default") / tputOf("raw_split")).toFixed(2)}.`,
  );
  if (!seen) throw new Error(`a read right after a push missed points: ${readAfterPushMissed.join(", ")}`);
  say();

  // ---- Retrieve at depth: cursor vs offset vs a raw scroll to the same depth.
  const window = { begin: GEN.start, end: GEN.start + 365 * 86_400_000 };
  const totalPoints = (await retrieve(pushB, { ...window, limit: 1 })).total;
  const depths = [...new Set([100_000, totalPoints - 100])].filter((d) => d > 0 && d < totalPoints);
  const page1 = await repeat(20, () => retrieve(pushB, { ...window, limit: 100 }));
  const retrieveResults: Record<string, unknown> = { totalPoints, page1 };
  say(`## Retrieve (limit 100, ${fmt(totalPoints)} points; latency in ms: p50 / p95 / p99 over n runs)`);
  say();
  say("| request | p50 | p95 | p99 | n | p50 / page 1 |");
  say("| --- | ---: | ---: | ---: | ---: | ---: |");
  const row = (name: string, s: ReturnType<typeof stats>) =>
    say(`| ${name} | ${f1(s.p50)} | ${f1(s.p95)} | ${f1(s.p99)} | ${s.n} | ${(s.p50 / page1.p50).toFixed(2)} |`);
  row("page 1", page1);
  for (const depth of depths) {
    const cursor: PointCursor = (await retrieve(pushB, { ...window, offset: depth - 1, limit: 1 })).next!;
    const cursorStats = await repeat(20, () => retrieve(pushB, { ...window, limit: 100, after: cursor }));
    // A page of its own each run, below the depth where the points end above it.
    const near = (run: number) => (offsetOfRun(depth, run) + 100 <= totalPoints ? offsetOfRun(depth, run) : depth - run * OFFSET_STEP);
    const offsetStats = await repeat(10, (run) => retrieve(pushB, { ...window, offset: near(run), limit: 100 }));
    // The raw baseline: scroll through offset + limit documents in `_doc` order and keep the last `limit`,
    // which is how CloudKitty's backend reaches a page. Its own code is measured against ratestore in
    // cloudkittyBaseline (offsets 10,000 and 100,000); this scroll is not it.
    const scrollStats = await repeat(depth > 200_000 ? 2 : 3, async () => {
      let res = (
        await raw.search({ index: pushB.partitions.alias, scroll: "1m", body: { size: 10_000, query: { match_all: {} }, sort: ["_doc"] } })
      ).body as { _scroll_id: string; hits: { hits: unknown[] } };
      let seen = res.hits.hits.length;
      while (seen < depth + 100 && res.hits.hits.length > 0) {
        res = (await raw.scroll({ body: { scroll_id: res._scroll_id, scroll: "1m" } })).body as typeof res;
        seen += res.hits.hits.length;
      }
      await raw.clearScroll({ body: { scroll_id: res._scroll_id } });
    });
    row(`cursor page at depth ${fmt(depth)}`, cursorStats);
    row(`offset pages near depth ${fmt(depth)} (one of its own each run)`, offsetStats);
    row(`raw scroll to depth ${fmt(depth)} (CloudKitty's way to a page, not its code)`, scrollStats);
    retrieveResults[`depth${depth}`] = { cursor: cursorStats, offset: offsetStats, rawScroll: scrollStats };
  }
  results.retrieve = retrieveResults;
  say();

  // ---- Summary.
  say("## Summary (`total`; latency in ms)");
  say();
  say(
    "| groupby | groups | first page (limit 100) p50 / p95 | full walk p50 | the same first page without the exact count p50 | exact count's share of first page |",
  );
  say("| --- | ---: | ---: | ---: | ---: | ---: |");
  const summary: Record<string, unknown> = {};
  for (const [key, runs] of [
    ["type", 10],
    ["project_id", 10],
    ["id", 3],
  ] as const) {
    const first = await repeat(runs, () => total(pushB, { ...window, groupby: [key], limit: 100 }));
    const groups = (await total(pushB, { ...window, groupby: [key], limit: 1 })).total;
    const walk = await repeat(key === "id" ? 2 : 5, () => total(pushB, { ...window, groupby: [key], paginate: false }));
    const field = key === "type" ? "type" : `groupby.${key}`;
    const bare = await repeat(runs, () =>
      pushB.client.request({
        method: "POST",
        path: `/${pushB.partitions.alias}/_search`,
        body: {
          size: 0,
          query: { bool: { filter: [{ range: { start: { gte: window.begin } } }] } },
          aggs: {
            g: { composite: { size: 100, sources: [{ k: { terms: { field, missing_bucket: key !== "type" } } }] }, aggs: SUM_AGGREGATIONS },
          },
        },
      }),
    );
    summary[key] = { groups, first, walk, bareFirstPage: bare };
    say(
      `| ${key} | ${fmt(groups)} | ${f1(first.p50)} / ${f1(first.p95)} | ${f1(walk.p50)} | ${f1(bare.p50)} | ${Math.max(0, 1 - bare.p50 / first.p50).toFixed(2)} |`,
    );
  }
  results.summary = summary;
  say();

  // ---- CloudKitty's own OpenSearch backend (cloudkitty from PyPI) on the same node and the same data.
  if (process.env.BENCH_CLOUDKITTY !== "0") results.cloudkitty = await cloudkittyBaseline(url, pushB, window);

  // ---- Memory while exporting every point through the service.
  const before = rssOf(service.pid!);
  // Reset the process's peak RSS (VmHWM) so that the peak read afterwards is the export's own.
  writeFileSync(`/proc/${service.pid}/clear_refs`, "5");
  let sampledMax = 0;
  const sampler = setInterval(() => (sampledMax = Math.max(sampledMax, rssOf(service.pid!).rssMb)), 100);
  const [exportMs, exported] = await timed(async () => {
    const res = await fetch(`http://127.0.0.1:${SERVICE_PORT}/v2/dataframes/export?begin=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z`);
    let points = 0;
    let carry = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      const text = carry + decoder.decode(chunk as Uint8Array, { stream: true });
      const parts = text.split("\n");
      carry = parts.pop()!;
      for (const line of parts)
        if (line)
          points += Object.values((JSON.parse(line) as { usage: Record<string, unknown[]> }).usage).reduce((n, l) => n + l.length, 0);
    }
    return points;
  });
  clearInterval(sampler);
  const after = rssOf(service.pid!);
  // Pages of any size are streamed too: the peak while serving limit=1,000,000 points, and every group.
  const bigPage = async (path: string) => {
    writeFileSync(`/proc/${service.pid}/clear_refs`, "5");
    const [ms, bytes] = await timed(async () => {
      const res = await fetch(`http://127.0.0.1:${SERVICE_PORT}${path}`);
      let n = 0;
      for await (const chunk of res.body!) n += (chunk as Uint8Array).length;
      return n;
    });
    return { path, seconds: ms / 1000, megabytes: bytes / 2 ** 20, peakRssMb: rssOf(service.pid!).peakMb };
  };
  const pages = [
    await bigPage("/v2/dataframes?begin=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&limit=10000"),
    await bigPage("/v2/dataframes?begin=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&limit=1000000"),
    await bigPage("/v2/summary?begin=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z&groupby=id&paginate=false"),
  ];
  service.kill("SIGTERM");
  // The floor: a raw point-in-time scan of the same partitions in `_shard_doc` order, sources included.
  const [rawScanMs, scanned] = await timed(async () => {
    const pit = (
      (
        await raw.transport.request({
          method: "POST",
          path: `/${pushB.partitions.alias}/_search/point_in_time`,
          querystring: { keep_alive: "2m" },
        })
      ).body as { pit_id: string }
    ).pit_id;
    let after: unknown[] | undefined;
    let n = 0;
    for (;;) {
      const res = (
        await raw.transport.request({
          method: "POST",
          path: "/_search",
          body: {
            size: 5000,
            pit: { id: pit, keep_alive: "2m" },
            sort: [{ _shard_doc: "asc" }],
            track_total_hits: false,
            ...(after ? { search_after: after } : {}),
          },
        })
      ).body as { hits: { hits: { sort: unknown[] }[] } };
      n += res.hits.hits.length;
      if (res.hits.hits.length < 5000) break;
      after = res.hits.hits[res.hits.hits.length - 1]!.sort;
    }
    await raw.transport.request({ method: "DELETE", path: "/_search/point_in_time", body: { pit_id: [pit] } });
    return n;
  });
  const exportRatio = ratio("export_over_raw_pit_scan", rawScanMs / exportMs, 0.8);
  ratio("export_peak_rss_under_150_mb", 150 / after.peakMb, 1);
  results.export = {
    points: exported,
    seconds: exportMs / 1000,
    rssBeforeMb: before.rssMb,
    peakRssDuringExportMb: after.peakMb,
    sampledMaxRssMb: sampledMax,
    peakRssBeforeExportMb: before.peakMb,
    rawPitScan: { points: scanned, seconds: rawScanMs / 1000 },
    ratioToRawPitScan: exportRatio,
  };
  say("## Memory: export of every point through `GET /v2/dataframes/export` (service process)");
  say();
  say(
    `Exported ${fmt(exported)} points in ${f1(exportMs / 1000)} s (${fmt(exported / (exportMs / 1000))} points/s); a raw point-in-time scan of the same partitions in \`_shard_doc\` order read ${fmt(scanned)} in ${f1(rawScanMs / 1000)} s: the export runs at ${exportRatio.toFixed(2)} of it (goal ≥ 0.8).`,
  );
  say();
  say("| service process | RSS (MB) |");
  say("| --- | ---: |");
  say(`| before the export (after serving the HTTP ingest) | ${f1(before.rssMb)} |`);
  say(`| peak during the export (VmHWM, reset just before) | ${f1(after.peakMb)} |`);
  say(`| largest of 100 ms samples during the export | ${f1(sampledMax)} |`);
  say(`| peak of the whole life before the export (HTTP ingest) | ${f1(before.peakMb)} |`);
  say();
  say("Large pages, streamed (peak RSS of the service process, VmHWM reset before each):");
  say();
  say("| request | answer (MB) | seconds | peak RSS (MB) |");
  say("| --- | ---: | ---: | ---: |");
  for (const p of pages)
    say(`| \`${p.path.replace(/begin=[^&]*&end=[^&]*&?/, "")}\` | ${f1(p.megabytes)} | ${f1(p.seconds)} | ${f1(p.peakRssMb)} |`);
  results.largePages = pages;
  say();
  await exactSums(raw, base);
  await rollups(base, raw);
  say(`Whole run: ${f1((Date.now() - started) / 60000)} minutes.`);

  results.ratios = ratios;
  const missed = Object.entries(ratios).filter(([, r]) => r.met === false);
  say(
    `Goals: ${Object.values(ratios).filter((r) => r.met).length} met, ${missed.length} missed${missed.length ? `: ${missed.map(([k, r]) => `${k} ${r.value.toFixed(2)} < ${r.goal}`).join("; ")}` : ""}.`,
  );
  for (const [k, r] of missed) console.error(`bench: ${k} misses its goal: ${r.value.toFixed(2)} < ${r.goal}`);
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(QUICK ? "bench/results/quick.json" : "bench/results/latest.json", JSON.stringify(results, null, 2));
  if (!QUICK) rewriteBlock("bench", lines);
  for (const b of [rawB, pushB, httpB]) await b.close();
  await raw.close();
  stopProvisioned();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
