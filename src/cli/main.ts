#!/usr/bin/env node
/** The `ratestore` command line: its commands and their options. */
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { RatestoreError, ValidationError } from "../errors.js";
import { createLogger } from "../logger.js";
import type { OperatedBackend } from "../storage/backend.js";
import { createBackend, openCloudKittySource } from "../storage/backends.js";
import { formatNanos } from "../storage/decimal.js";
import { dataFramesNdjson } from "../storage/dataframe-json.js";
import { framesOfPage } from "../storage/frames.js";
import { parseFilters, parseWindow } from "../api/params.js";
import { currentMonthWindow } from "../storage/time.js";
import { importSavedObjects, loadSavedObjects } from "./dashboards.js";
import { DEFAULT_GENERATE, generateFrames, recentStart } from "./generate.js";
import { ingest } from "./ingest.js";
import { migrate } from "./migrate.js";
import { openSink } from "./sources.js";
import { ApiTarget, StorageTarget, type PushTarget } from "./targets.js";
import { describeDifference, verifyMigration } from "./verify-migration.js";

const USAGE = `usage: ratestore <command> [options]

commands:
  ingest <file|->...   load dataframes (JSON list, {"dataframes": [...]}, NDJSON; gzip or plain)
      --api URL --key KEY     push through the HTTP API instead of straight to the cluster
      --rejects FILE          reject file (default ratestore-rejects.ndjson)
      --checkpoint FILE       resume file (default ratestore-ingest.checkpoint.json); --no-checkpoint
      --restart               ignore an existing checkpoint
      --batch-points N        points per push (default 5000); --concurrency N (default 2)
  generate             write synthetic dataframes as NDJSON (gzip when --out ends in .gz)
      --points N --projects N --resources-per-project N --metadata-cardinality N
      --period-seconds N --start ISO --seed N --out FILE|-
      (without --start the data ends with the current period, inside the retention)
  export               write matching points as NDJSON dataframes
      --begin ISO --end ISO --filters k:v,... --out FILE|-
  init                 install index templates and policies, then exit
  migrate              copy a CloudKitty v2 index (its Elasticsearch or OpenSearch backend) into ratestore,
                       then verify per (type, project_id) totals; resumable and idempotent
      --from URL[,URL]        the cluster holding the CloudKitty index (credentials in the URL if needed)
      --index NAME            the CloudKitty index (CloudKitty's index_name, default "cloudkitty")
      --begin ISO --end ISO   copy only points whose start is in [begin, end)
      --rejects FILE          documents that cannot be stored exactly (default ratestore-migrate-rejects.ndjson)
      --checkpoint FILE       days done (default ratestore-migrate.checkpoint.json); --restart ignores it
      --verify-only           only compare the totals; --no-verify skips the comparison
  partitions           list partitions: period, documents, size, policy, its state, when retention takes it out of reads (--json)
  sweep                delete expired partitions now (clusters without ISM; safe beside running services)
  rollups status       days served from rollups (clean), waiting for a rebuild (dirty), never rolled up (raw) (--json)
  rollups rebuild      mark the days of a window changed and rebuild them and their months now
      --begin ISO --end ISO   the window (default: the current month)
  dashboards import    import dashboards/ratestore.ndjson into OpenSearch Dashboards or Kibana
      --url URL [--username U --password P] (or DASHBOARDS_USERNAME / DASHBOARDS_PASSWORD)

Configuration comes from the same environment variables as the service (see README).
Exit codes: 0 done, 2 some points rejected (see the reject file), 3 migrate's verification found
differences, 1 error.`;

const int = (v: string | undefined, name: string, def: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw ValidationError.forField(`--${name}`, "must be a non-negative integer");
  return n;
};

async function cmdIngest(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      key: { type: "string" },
      rejects: { type: "string", default: "ratestore-rejects.ndjson" },
      checkpoint: { type: "string", default: "ratestore-ingest.checkpoint.json" },
      "no-checkpoint": { type: "boolean", default: false },
      restart: { type: "boolean", default: false },
      "batch-points": { type: "string" },
      concurrency: { type: "string" },
      "no-progress": { type: "boolean", default: false },
    },
  });
  if (positionals.length === 0) throw ValidationError.forField("files", "name at least one file, or - for stdin");
  const logger = createLogger(process.env.RATESTORE_LOG_LEVEL ?? "warn");
  let target: PushTarget;
  if (values.api) {
    target = new ApiTarget(values.api, values.key ?? process.env.RATESTORE_API_KEY);
  } else {
    const backend = createBackend(loadConfig().storage, logger);
    await backend.init();
    target = new StorageTarget(backend);
  }
  const checkpointPath = values["no-checkpoint"] ? undefined : values.checkpoint;
  if (checkpointPath && values.restart) {
    const { rmSync } = await import("node:fs");
    rmSync(checkpointPath, { force: true });
  }
  try {
    const summary = await ingest({
      sources: positionals,
      target,
      batchPoints: int(values["batch-points"], "batch-points", 5000),
      concurrency: Math.max(1, int(values.concurrency, "concurrency", 2)),
      rejectPath: values.rejects,
      ...(checkpointPath ? { checkpointPath } : {}),
      progress: !values["no-progress"],
    });
    const rejected = summary.invalidRecords + summary.rejectedPoints;
    console.error(
      `ingest: ${summary.points} points read in ${summary.records} records (${summary.skippedRecords} skipped from the checkpoint), ` +
        `${summary.stored} stored, ${summary.duplicates} already stored, ${summary.rejectedPoints} points and ${summary.invalidRecords} records rejected` +
        `${rejected > 0 ? ` (see ${values.rejects})` : ""}, ${summary.seconds.toFixed(1)} s`,
    );
    console.log(JSON.stringify(summary));
    return rejected > 0 ? 2 : 0;
  } finally {
    await target.close();
  }
}

async function cmdGenerate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      points: { type: "string" },
      projects: { type: "string" },
      "resources-per-project": { type: "string" },
      "metadata-cardinality": { type: "string" },
      "period-seconds": { type: "string" },
      start: { type: "string" },
      seed: { type: "string" },
      out: { type: "string", default: "-" },
    },
  });
  const d = DEFAULT_GENERATE;
  const shape = {
    points: int(values.points, "points", d.points),
    projects: Math.max(1, int(values.projects, "projects", d.projects)),
    resourcesPerProject: Math.max(1, int(values["resources-per-project"], "resources-per-project", d.resourcesPerProject)),
    metadataCardinality: Math.max(1, int(values["metadata-cardinality"], "metadata-cardinality", d.metadataCardinality)),
    periodSeconds: Math.max(1, int(values["period-seconds"], "period-seconds", d.periodSeconds)),
    seed: int(values.seed, "seed", d.seed),
  };
  // Without --start the data ends with the current period: inside the retention, so an ingest stores it.
  const start = values.start ? parseWindow(values.start).begin! : recentStart(shape);
  const sink = openSink(values.out);
  let n = 0;
  for (const frame of generateFrames({ ...shape, start })) {
    await sink.write(JSON.stringify(frame) + "\n");
    n += Object.values(frame.usage).reduce((a, l) => a + l.length, 0);
  }
  await sink.close();
  console.error(`generate: ${n} points written to ${values.out}`);
  return 0;
}

async function cmdExport(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      begin: { type: "string" },
      end: { type: "string" },
      filters: { type: "string", multiple: true },
      out: { type: "string", default: "-" },
    },
  });
  const config = loadConfig();
  const backend = createBackend(config.storage, createLogger(process.env.RATESTORE_LOG_LEVEL ?? "warn"));
  const sink = openSink(values.out);
  let n = 0;
  try {
    await backend.connect();
    for await (const page of backend.scanPoints({
      ...parseWindow(values.begin, values.end),
      ...parseFilters(values.filters, config.api.scopeKey),
    })) {
      await sink.write(dataFramesNdjson(framesOfPage(page)));
      n += page.length;
    }
  } finally {
    await sink.close();
    await backend.close();
  }
  console.error(`export: ${n} points written to ${values.out}`);
  return 0;
}

async function cmdInit(): Promise<number> {
  const backend = createBackend(loadConfig().storage, createLogger("info"));
  try {
    await backend.init();
  } finally {
    await backend.close();
  }
  return 0;
}

async function withBackend<T>(fn: (backend: OperatedBackend) => Promise<T>): Promise<T> {
  const backend = createBackend(loadConfig().storage, createLogger(process.env.RATESTORE_LOG_LEVEL ?? "warn"));
  try {
    await backend.init();
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

async function cmdMigrate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: "string" },
      index: { type: "string" },
      begin: { type: "string" },
      end: { type: "string" },
      rejects: { type: "string", default: "ratestore-migrate-rejects.ndjson" },
      checkpoint: { type: "string", default: "ratestore-migrate.checkpoint.json" },
      restart: { type: "boolean", default: false },
      "batch-points": { type: "string" },
      "no-progress": { type: "boolean", default: false },
      "verify-only": { type: "boolean", default: false },
      "no-verify": { type: "boolean", default: false },
    },
  });
  if (!values.from) throw ValidationError.forField("--from", "the source cluster URL is required (several, comma-separated, for failover)");
  if (!values.index) throw ValidationError.forField("--index", "the CloudKitty index to copy is required");
  const config = loadConfig();
  const from = loadConfig({ RATESTORE_CLUSTER_URL: values.from }).storage.cluster;
  const source = openCloudKittySource({ ...config.storage.cluster, urls: from.urls, profile: {} }, values.index);
  const window = parseWindow(values.begin, values.end);
  const backend = createBackend(config.storage, createLogger(process.env.RATESTORE_LOG_LEVEL ?? "warn"));
  try {
    await backend.init();
    let rejected = 0;
    if (!values["verify-only"]) {
      const summary = await migrate({
        source,
        index: values.index,
        target: backend,
        window,
        checkpointPath: values.checkpoint,
        rejectPath: values.rejects,
        restart: values.restart,
        batchPoints: int(values["batch-points"], "batch-points", 5000),
        progress: !values["no-progress"],
      });
      rejected = summary.rejected;
      console.error(
        `migrate: ${summary.documents} documents read (${summary.days} days copied, ${summary.skippedDays} done before), ${summary.points} points, ` +
          `${summary.stored} stored, ${summary.duplicates} already stored, ${summary.mappingDocuments} CloudKitty mapping documents skipped, ` +
          `${summary.rejected} rejected${summary.rejected > 0 ? ` (see ${values.rejects})` : ""}, ${summary.seconds.toFixed(1)} s`,
      );
      console.log(JSON.stringify({ migrate: summary }));
    }
    if (values["no-verify"]) return rejected > 0 ? 2 : 0;
    const v = await verifyMigration(source, values.index, backend, window);
    for (const d of v.differences) console.error(`verify: DIFFERENCE ${describeDifference(d)}`);
    console.error(`verify: ${v.groups} (type, project_id) groups, ${v.sourcePoints} source points, ${v.differences.length} differences`);
    console.log(
      JSON.stringify(
        { verify: { groups: v.groups, sourcePoints: v.sourcePoints, differences: v.differences.length } },
        (_k, val: unknown) => (typeof val === "bigint" ? formatNanos(val) : val),
      ),
    );
    return v.differences.length > 0 ? 3 : rejected > 0 ? 2 : 0;
  } finally {
    await source.close();
    await backend.close();
  }
}

const day = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " "));

async function cmdPartitions(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean", default: false } } });
  const rows = await withBackend((b) => b.describePartitions());
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const table = [["partition", "period start", "period end", "docs", "size", "policy", "state", "out of reads"]];
  for (const r of rows)
    table.push([
      r.index,
      day(r.periodStart),
      day(r.periodEnd),
      String(r.docs),
      `${(r.bytes / 1048576).toFixed(1)} MiB`,
      r.policy,
      r.state ?? "-",
      day(r.deletesAt),
    ]);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  return 0;
}

async function cmdSweep(): Promise<number> {
  const result = await withBackend((b) => b.sweepRetention());
  console.log(JSON.stringify(result));
  return 0;
}

async function cmdRollups(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { begin: { type: "string" }, end: { type: "string" }, json: { type: "boolean", default: false } },
  });
  if (positionals[0] === "status") {
    const status = await withBackend((b) => b.rollupStatus());
    if (values.json) {
      console.log(JSON.stringify(status, null, 2));
      return 0;
    }
    console.log(`rollups: ${status.enabled ? "on" : "off (RATESTORE_ROLLUPS=false)"}`);
    console.log(
      `days: ${status.days.clean} clean, ${status.days.dirty} dirty, ${status.days.raw} raw; oldest dirty day waiting ${status.lagSeconds.toFixed(0)} s`,
    );
    for (const p of status.pending) console.log(`  ${p.day}  ${p.status}${p.reason ? `  ${p.reason}` : ""}`);
    return 0;
  }
  if (positionals[0] === "rebuild") {
    const given = parseWindow(values.begin, values.end);
    const month = currentMonthWindow(Date.now());
    const window = { begin: given.begin ?? month.begin, end: given.end ?? month.end };
    const result = await withBackend((b) => b.rebuildRollups(window));
    if (!result.leader)
      console.error("rollups rebuild: another instance holds the builder's lease; it rebuilds the marked days on its next run");
    console.log(JSON.stringify(result));
    return 0;
  }
  throw ValidationError.forField("rollups", "usage: ratestore rollups status [--json] | rollups rebuild [--begin ISO --end ISO]");
}

async function cmdDashboards(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { url: { type: "string" }, username: { type: "string" }, password: { type: "string" } },
  });
  if (positionals[0] !== "import" || !values.url)
    throw ValidationError.forField("dashboards", "usage: ratestore dashboards import --url URL");
  const username = values.username ?? process.env.DASHBOARDS_USERNAME;
  const password = values.password ?? process.env.DASHBOARDS_PASSWORD ?? "";
  const objects = loadSavedObjects(loadConfig().storage.indexPrefix);
  const result = await importSavedObjects(values.url, objects, username ? { username, password } : undefined);
  console.log(JSON.stringify(result));
  return result.success ? 0 : 1;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  dashboards: cmdDashboards,
  ingest: cmdIngest,
  generate: cmdGenerate,
  export: cmdExport,
  init: cmdInit,
  migrate: cmdMigrate,
  partitions: cmdPartitions,
  rollups: cmdRollups,
  sweep: cmdSweep,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(USAGE);
    return command === "--help" || command === "-h" ? 0 : 1;
  }
  try {
    return await run(rest);
  } catch (err) {
    const message =
      err instanceof RatestoreError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
        ? (err as Error).message
        : String((err as Error).stack ?? err);
    console.error(`ratestore ${command}: ${message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
