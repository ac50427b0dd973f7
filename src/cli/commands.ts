/**
 * What each `ratestore` command does, given its parsed options (src/cli/program.ts declares the commands
 * and parses their arguments); each returns the command's exit code.
 */
import { existsSync, rmSync } from "node:fs";
import { ValidationError } from "../errors.js";
import { loadConfig } from "../config.js";
import { createLogger } from "../logger.js";
import type { OperatedBackend } from "../storage/backend.js";
import { createBackend, openCloudKittySource } from "../storage/backends.js";
import { formatNanos } from "../storage/decimal.js";
import { dataFramesNdjson } from "../storage/dataframe-json.js";
import { framesOfPage } from "../storage/frames.js";
import { parseFilters, parseWindow } from "../api/params.js";
import { currentMonthWindow } from "../storage/time.js";
import { importSavedObjects, loadSavedObjects } from "./dashboards.js";
import { generateFrames, recentStart, type GenerateOptions } from "./generate.js";
import { ingest } from "./ingest.js";
import { migrate } from "./migrate.js";
import { openSink } from "./sources.js";
import { ApiTarget, StorageTarget, type PushTarget } from "./targets.js";
import { describeDifference, verifyMigration } from "./verify-migration.js";

/** Exit codes, beyond 0 (done) and 1 (an error). */
export const EXIT_REJECTED = 2;
export const EXIT_DIFFERENCES = 3;

const quietLogger = () => createLogger(process.env.RATESTORE_LOG_LEVEL ?? "warn");

export interface IngestCommand {
  readonly api?: string;
  readonly key?: string;
  readonly rejects: string;
  /** false with --no-checkpoint. */
  readonly checkpoint: string | false;
  readonly restart: boolean;
  readonly batchPoints: number;
  readonly concurrency: number;
  readonly progress: boolean;
}

export async function runIngest(files: readonly string[], o: IngestCommand): Promise<number> {
  // Before any connection: a mistyped name is the likeliest mistake, and says so at once.
  const missing = files.filter((f) => f !== "-" && !existsSync(f));
  if (missing.length > 0) throw ValidationError.forField("files", `no such file: ${missing.join(", ")}`);
  let target: PushTarget;
  if (o.api) {
    target = new ApiTarget(o.api, o.key ?? process.env.RATESTORE_API_KEY);
  } else {
    const backend = createBackend(loadConfig().storage, quietLogger());
    await backend.init();
    target = new StorageTarget(backend);
  }
  if (o.checkpoint && o.restart) rmSync(o.checkpoint, { force: true });
  try {
    const summary = await ingest({
      sources: [...files],
      target,
      batchPoints: o.batchPoints,
      concurrency: Math.max(1, o.concurrency),
      rejectPath: o.rejects,
      ...(o.checkpoint ? { checkpointPath: o.checkpoint } : {}),
      progress: o.progress,
    });
    const rejected = summary.invalidRecords + summary.rejectedPoints;
    console.error(
      `ingest: ${summary.points} points read in ${summary.records} records (${summary.skippedRecords} skipped from the checkpoint), ` +
        `${summary.stored} stored, ${summary.duplicates} already stored, ${summary.rejectedPoints} points and ${summary.invalidRecords} records rejected` +
        `${rejected > 0 ? ` (see ${o.rejects})` : ""}, ${summary.seconds.toFixed(1)} s`,
    );
    console.log(JSON.stringify(summary));
    return rejected > 0 ? EXIT_REJECTED : 0;
  } finally {
    await target.close();
  }
}

export type GenerateCommand = Omit<GenerateOptions, "start"> & { readonly start?: string; readonly out: string };

export async function runGenerate(o: GenerateCommand): Promise<number> {
  const shape = {
    points: o.points,
    projects: Math.max(1, o.projects),
    resourcesPerProject: Math.max(1, o.resourcesPerProject),
    metadataCardinality: Math.max(1, o.metadataCardinality),
    periodSeconds: Math.max(1, o.periodSeconds),
    seed: o.seed,
  };
  // Without --start the data ends with the current period: inside the retention, so an ingest stores it.
  const start = o.start ? parseWindow(o.start).begin! : recentStart(shape);
  const sink = openSink(o.out);
  let n = 0;
  for (const frame of generateFrames({ ...shape, start })) {
    await sink.write(JSON.stringify(frame) + "\n");
    n += Object.values(frame.usage).reduce((a, l) => a + l.length, 0);
  }
  await sink.close();
  console.error(`generate: ${n} points written to ${o.out}`);
  return 0;
}

export interface ExportCommand {
  readonly begin?: string;
  readonly end?: string;
  readonly filters?: readonly string[];
  readonly out: string;
}

export async function runExport(o: ExportCommand): Promise<number> {
  const config = loadConfig();
  const window = parseWindow(o.begin, o.end);
  const filters = parseFilters(o.filters ? [...o.filters] : undefined, config.api.scopeKey);
  const backend = createBackend(config.storage, quietLogger());
  await backend.connect();
  const sink = openSink(o.out);
  let n = 0;
  try {
    for await (const page of backend.scanPoints({ ...window, ...filters })) {
      await sink.write(dataFramesNdjson(framesOfPage(page)));
      n += page.length;
    }
  } finally {
    await sink.close();
    await backend.close();
  }
  console.error(`export: ${n} points written to ${o.out}`);
  return 0;
}

export async function runInit(): Promise<number> {
  const backend = createBackend(loadConfig().storage, createLogger("info"));
  try {
    await backend.init();
  } finally {
    await backend.close();
  }
  return 0;
}

async function withBackend<T>(fn: (backend: OperatedBackend) => Promise<T>): Promise<T> {
  const backend = createBackend(loadConfig().storage, quietLogger());
  try {
    await backend.init();
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

export interface MigrateCommand {
  readonly from: string;
  readonly index: string;
  readonly begin?: string;
  readonly end?: string;
  readonly rejects: string;
  readonly checkpoint: string;
  readonly restart: boolean;
  readonly batchPoints: number;
  readonly progress: boolean;
  readonly verifyOnly: boolean;
  /** false with --no-verify. */
  readonly verify: boolean;
}

export async function runMigrate(o: MigrateCommand): Promise<number> {
  const config = loadConfig();
  const from = loadConfig({ RATESTORE_CLUSTER_URL: o.from }).storage.cluster;
  const window = parseWindow(o.begin, o.end);
  const source = openCloudKittySource({ ...config.storage.cluster, urls: from.urls, profile: {} }, o.index);
  const backend = createBackend(config.storage, quietLogger());
  try {
    await backend.init();
    let rejected = 0;
    if (!o.verifyOnly) {
      const summary = await migrate({
        source,
        index: o.index,
        target: backend,
        window,
        checkpointPath: o.checkpoint,
        rejectPath: o.rejects,
        restart: o.restart,
        batchPoints: o.batchPoints,
        progress: o.progress,
      });
      rejected = summary.rejected;
      console.error(
        `migrate: ${summary.documents} documents read (${summary.days} days copied, ${summary.skippedDays} done before), ${summary.points} points, ` +
          `${summary.stored} stored, ${summary.duplicates} already stored, ${summary.mappingDocuments} CloudKitty mapping documents skipped, ` +
          `${summary.rejected} rejected${summary.rejected > 0 ? ` (see ${o.rejects})` : ""}, ${summary.seconds.toFixed(1)} s`,
      );
      console.log(JSON.stringify({ migrate: summary }));
    }
    if (!o.verify) return rejected > 0 ? EXIT_REJECTED : 0;
    const v = await verifyMigration(source, o.index, backend, window);
    for (const d of v.differences) console.error(`verify: DIFFERENCE ${describeDifference(d)}`);
    console.error(`verify: ${v.groups} (type, project_id) groups, ${v.sourcePoints} source points, ${v.differences.length} differences`);
    console.log(
      JSON.stringify(
        { verify: { groups: v.groups, sourcePoints: v.sourcePoints, differences: v.differences.length } },
        (_k, val: unknown) => (typeof val === "bigint" ? formatNanos(val) : val),
      ),
    );
    return v.differences.length > 0 ? EXIT_DIFFERENCES : rejected > 0 ? EXIT_REJECTED : 0;
  } finally {
    await source.close();
    await backend.close();
  }
}

const day = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " "));

export async function runPartitions(o: { readonly json: boolean }): Promise<number> {
  const rows = await withBackend((b) => b.describePartitions());
  if (o.json) {
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

export async function runSweep(): Promise<number> {
  const result = await withBackend((b) => b.sweepRetention());
  console.log(JSON.stringify(result));
  return 0;
}

export async function runRollupStatus(o: { readonly json: boolean }): Promise<number> {
  const status = await withBackend((b) => b.rollupStatus());
  if (o.json) {
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

export async function runRollupRebuild(o: { readonly begin?: string; readonly end?: string }): Promise<number> {
  const given = parseWindow(o.begin, o.end);
  const month = currentMonthWindow(Date.now());
  const window = { begin: given.begin ?? month.begin, end: given.end ?? month.end };
  const result = await withBackend((b) => b.rebuildRollups(window));
  if (!result.leader)
    console.error("rollups rebuild: another instance holds the builder's lease; it rebuilds the marked days on its next run");
  console.log(JSON.stringify(result));
  return 0;
}

export async function runDashboardsImport(o: {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
}): Promise<number> {
  const username = o.username ?? process.env.DASHBOARDS_USERNAME;
  const password = o.password ?? process.env.DASHBOARDS_PASSWORD ?? "";
  const objects = loadSavedObjects(loadConfig().storage.indexPrefix);
  const result = await importSavedObjects(o.url, objects, username ? { username, password } : undefined);
  console.log(JSON.stringify(result));
  return result.success ? 0 : 1;
}
