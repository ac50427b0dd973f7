/**
 * Summaries from rollups at the scale of a real month, against CloudKitty's own `total()` and against
 * ratestore's raw-point summaries on the same node: the month (and a year of daily periods) loaded with
 * rollup upkeep, every day built, then the billing questions asked of a quiet month and of a month with
 * one day just written to. Also the push's cost of rollup upkeep, build times and sizes on disk.
 */
import type { Client } from "@opensearch-project/opensearch";
import { generateFrames, type GenerateOptions } from "../src/cli/generate.js";
import type { StorageConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { NO_OBSERVER, type StorageObserver, type TotalOptions, type TotalResult } from "../src/storage/backend.js";
import { DataFrameInputSchema, type DataFrame } from "../src/storage/dataframe.js";
import { formatNanos } from "../src/storage/decimal.js";
import { SearchEngineBackend } from "../src/storage/search-engine/backend.js";
import { datasetFile, type CloudKitty } from "./cloudkitty.js";
import { withConcurrency } from "./concurrency.js";
import { total } from "../src/storage/reads.js";

type Say = (line?: string) => void;
type Ratio = (key: string, value: number, goal?: number) => number;

export interface RollupBenchOptions {
  readonly month: GenerateOptions;
  readonly year: GenerateOptions;
  /** Runs of each question on each side, after a warm-up. */
  readonly runs: number;
  /** Push rounds, each side in turn, for the cost of rollup upkeep. */
  readonly rounds: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Pushes of at most 5,000 points, whole periods sliced, in order. */
function* pushes(gen: GenerateOptions, size = 5000): Generator<DataFrame[]> {
  for (const frame of generateFrames(gen)) {
    const df = DataFrameInputSchema.parse(frame);
    for (let i = 0; i < df.points.length; i += size) yield [{ begin: df.begin, end: df.end, points: df.points.slice(i, i + size) }];
  }
}

const windowOf = (gen: GenerateOptions) => ({
  begin: gen.start,
  end: gen.start + Math.ceil(gen.points / (gen.projects * gen.resourcesPerProject)) * gen.periodSeconds * 1000,
});

/** Runs `a` and `b` in turn `runs` times after a warm-up of each: their times in ms. */
async function interleaved(runs: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let run = 0; run <= runs; run++) {
    for (const [k, fn] of [a, b].entries()) {
      const t = performance.now();
      await fn();
      if (run > 0) times[k]!.push(performance.now() - t);
    }
  }
  return times;
}

function text(r: TotalResult): string {
  return JSON.stringify([r.total, ...r.results.map((x) => [x.groups, x.begin, x.end, formatNanos(x.qty), formatNanos(x.rate)])]);
}

/** Build times reported by the builder. */
class BuildTimes implements StorageObserver {
  readonly days: number[] = [];
  readonly months: number[] = [];
  bulkRequest = NO_OBSERVER.bulkRequest;
  refresh = NO_OBSERVER.refresh;
  totalPlan = NO_OBSERVER.totalPlan;
  rollupBacklog = NO_OBSERVER.rollupBacklog;
  rollupBuild(level: "day" | "month", outcome: string, seconds: number): void {
    if (outcome === "built") (level === "day" ? this.days : this.months).push(seconds * 1000);
  }
}

interface ShardStats {
  seq_no: { max_seq_no: number };
  retention_leases?: { leases: { retaining_seq_no: number }[] };
}

/** Waits (at most 3 minutes) until every retention lease of the index's shards retains nothing already written. */
async function leasesPassed(raw: Client, index: string): Promise<void> {
  for (let i = 0; i < 180; i++) {
    const stats = (
      await raw.transport.request({
        method: "GET",
        path: `/${index}/_stats`,
        querystring: { level: "shards", filter_path: "indices.*.shards.*.seq_no,indices.*.shards.*.retention_leases" },
      })
    ).body as { indices?: Record<string, { shards: Record<string, ShardStats[]> }> };
    const copies = Object.values(stats.indices ?? {}).flatMap((x) => Object.values(x.shards).flat());
    if (copies.every((c) => (c.retention_leases?.leases ?? []).every((l) => l.retaining_seq_no > c.seq_no.max_seq_no))) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function rollupsBench(
  raw: Client,
  base: StorageConfig,
  cloudkitty: CloudKitty,
  say: Say,
  ratio: Ratio,
  opts: RollupBenchOptions,
): Promise<Record<string, unknown>> {
  const logger = createLogger("warn");
  const times = new BuildTimes();
  const on = new SearchEngineBackend({ ...base, indexPrefix: "bench-ru" }, logger, times);
  // The push of the release before: no marks.
  const off = new SearchEngineBackend(
    { ...base, indexPrefix: "bench-rr", rollups: { ...base.rollups, enabled: false, marks: false } },
    logger,
  );
  const year = new SearchEngineBackend({ ...base, indexPrefix: "bench-ry" }, logger);
  for (const b of [on, off, year]) {
    await raw.transport.request({ method: "DELETE", path: `/${b.config.indexPrefix}-*` }, { ignore: [404] });
    await raw.transport.request({ method: "DELETE", path: `/_index_template/${b.partitions.alias}` }, { ignore: [404] });
    await b.init();
  }
  /** The same indices as `on`, read from raw points only: what summaries cost without rollups. */
  const rawReads = new SearchEngineBackend({ ...on.config, rollups: { ...on.config.rollups, enabled: false } }, logger);
  await rawReads.connect();
  const yearRaw = new SearchEngineBackend({ ...year.config, rollups: { ...year.config.rollups, enabled: false } }, logger);
  await yearRaw.connect();
  const out: Record<string, unknown> = {};
  const month = opts.month;
  const points = month.points;

  // ---- The month, pushed with and without rollup upkeep, round by round.
  const all = [...pushes(month)];
  const perRound = Math.ceil(all.length / opts.rounds);
  const upkeep: number[] = [];
  const rates = { on: [] as number[], off: [] as number[] };
  for (let r = 0; r < opts.rounds; r++) {
    const slice = all.slice(r * perRound, (r + 1) * perRound);
    const n = slice.reduce((a, f) => a + f[0]!.points.length, 0);
    if (n === 0) break;
    const t0 = performance.now();
    await withConcurrency(slice, 2, async (frames) => void (await on.push(frames)));
    const t1 = performance.now();
    await withConcurrency(slice, 2, async (frames) => void (await off.push(frames)));
    const t2 = performance.now();
    rates.on.push(n / ((t1 - t0) / 1000));
    rates.off.push(n / ((t2 - t1) / 1000));
    upkeep.push((t2 - t1) / (t1 - t0));
  }
  const upkeepRatio = ratio("rollups.push_with_upkeep_over_without", median(upkeep), 0.9);
  out.push = { rounds: upkeep.length, onPointsPerSecond: median(rates.on), offPointsPerSecond: median(rates.off), ratio: upkeepRatio };

  // ---- Every day built, then the month.
  const built = performance.now();
  const run = await on.builder.runOnce(Date.now(), { quiet: false });
  const buildSeconds = (performance.now() - built) / 1000;
  const dayP50 = median(times.days);
  const dayMax = Math.max(...times.days);
  ratio("rollups.day_build_within_2_s", 2000 / dayMax, 1);
  out.build = { run, seconds: buildSeconds, dayMs: times.days, monthMs: times.months };

  // ---- CloudKitty's index of the same month, by its own push().
  const path = datasetFile(month);
  await cloudkitty.ask({ op: "init", url: base.cluster.urls[0], index: "bench-ck-month", fresh: true, create: true });
  const load = await cloudkitty.ask({ op: "load", path });
  out.cloudkittyLoad = load;

  // Both sides computed every time (a live month changes every hour), one segment each, merged once
  // the shards' retention leases have passed every operation and a flush has committed that: until
  // then a merge keeps each document's whole source (`_recovery_source`) beside the `_source` that
  // template version 7 trims.
  for (const index of ["bench-ru-points-*", "bench-rr-points-*", "bench-ck-month"]) {
    await raw.transport.request({ method: "POST", path: `/${index}/_refresh` });
    await leasesPassed(raw, index);
    // The merge drops the recovery source of what the last commit's leases no longer retain.
    await raw.transport.request({ method: "POST", path: `/${index}/_flush` });
    await raw.transport.request({ method: "POST", path: `/${index}/_forcemerge`, querystring: { max_num_segments: 1 } });
    // Until a refresh, the merged-away segments stay the searchable ones and are listed beside the merged
    // one: an index idle for searches is never refreshed on its own.
    await raw.transport.request({ method: "POST", path: `/${index}/_refresh` });
    await raw.transport.request({ method: "PUT", path: `/${index}/_settings`, body: { "index.requests.cache.enable": false } });
  }
  /**
   * The bytes of an index's live segments once its force-merge has left one segment a shard: the store
   * size read right after the merge request also counted the merged-away segments not yet deleted.
   */
  const bytes = async (index: string) => {
    for (let i = 0; ; i++) {
      const rows = (
        await raw.transport.request({
          method: "GET",
          path: `/_cat/segments/${index}`,
          querystring: { format: "json", bytes: "b", h: "index,shard,prirep,size" },
        })
      ).body as { index: string; shard: string; prirep: string; size: string }[];
      const primaries = rows.filter((r) => r.prirep === "p");
      const shards = new Set(primaries.map((r) => `${r.index}/${r.shard}`));
      if (primaries.length === shards.size) return primaries.reduce((n, r) => n + Number(r.size), 0);
      if (i >= 120) throw new Error(`${index}: ${primaries.length} segments for ${shards.size} shards after 2 minutes`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const sizes = {
    withRollups: await bytes("bench-ru-points-*"),
    points: await bytes("bench-rr-points-*"),
    cloudkitty: await bytes("bench-ck-month"),
  };
  const rollupShare = (sizes.withRollups - sizes.points) / sizes.points;
  ratio("rollups.storage_within_5_percent", 0.05 / Math.max(rollupShare, 1e-9), 1);
  const perPoint = { ratestore: sizes.points / points, cloudkitty: sizes.cloudkitty / Number(load.documents ?? points) };
  ratio("rollups.bytes_per_point_within_1_5x_cloudkitty", 1.5 / (perPoint.ratestore / perPoint.cloudkitty), 1);
  out.sizes = { ...sizes, rollupShare, perPoint };

  // ---- The questions.
  const window = windowOf(month);
  const iso = (t: number) => new Date(t).toISOString();
  const questions: { name: string; ours: TotalOptions; theirs: Record<string, unknown> }[] = [
    {
      name: "month by project_id",
      ours: { groupby: ["project_id"], paginate: false },
      theirs: { groupby: ["project_id"], paginate: false },
    },
    {
      name: "by project_id, type",
      ours: { groupby: ["project_id", "type"], paginate: false },
      theirs: { groupby: ["project_id", "type"], paginate: false },
    },
    { name: "ungrouped", ours: { paginate: false }, theirs: { paginate: false } },
    { name: "by id", ours: { groupby: ["id"], paginate: false }, theirs: { groupby: ["id"], paginate: false } },
    {
      name: "first page of 100 (by project_id, type)",
      ours: { groupby: ["project_id", "type"], limit: 100 },
      theirs: { groupby: ["project_id", "type"], paginate: true, limit: 100 },
    },
  ];
  const ask = async (q: (typeof questions)[number]) =>
    (
      await cloudkitty.ask({
        op: "timed",
        call: "total",
        runs: opts.runs,
        begin: iso(window.begin),
        end: iso(window.end),
        limit: 1000,
        ...q.theirs,
      })
    ).ms as number[];
  const measure = async (label: string, goal: number, key: string) => {
    say(
      `| question (${label}) | ratestore, rollups | ratestore, raw points | CloudKitty \`total()\` | CloudKitty / ratestore | raw / rollups | goal | met |`,
    );
    say("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    const rows: Record<string, unknown> = {};
    for (const q of questions) {
      const options = { ...window, ...q.ours };
      // The answers are the same, to the last digit, before anything is timed.
      const [a, b] = [await total(on, options), await total(rawReads, options)];
      if (text(a) !== text(b)) throw new Error(`rollups and raw points differ for ${q.name}`);
      const [mine, rawMs] = await interleaved(
        opts.runs,
        () => total(on, options),
        () => total(rawReads, options),
      );
      const theirs = median(await ask(q));
      const r = ratio(
        `rollups.${key}.cloudkitty_over_ratestore.${q.name.replace(/[^a-z0-9]+/gi, "_").replace(/_$/, "")}`,
        theirs / median(mine),
        goal,
      );
      rows[q.name] = { rollups: mine, raw: rawMs, cloudkittyP50: theirs, ratio: r };
      say(
        `| ${q.name} | ${ms(median(mine))} | ${ms(median(rawMs))} | ${ms(theirs)} | ${r.toFixed(1)} | ${(median(rawMs) / median(mine)).toFixed(1)} | ≥ ${goal} | ${r >= goal ? "yes" : "**no**"} |`,
      );
    }
    say();
    return rows;
  };

  say(
    `### A month: ${fmt(points)} points (${fmt(month.projects * month.resourcesPerProject)} resources in ${month.projects} projects, hourly periods), every day built`,
  );
  say();
  say(
    `Median of ${opts.runs} runs in ms, after a warm-up; the shard request cache off on every index, each index force-merged to one segment. "Raw points" is ratestore reading the same indices with rollups off (RATESTORE_ROLLUPS=false): what every summary cost before.`,
  );
  say();
  out.quiet = await measure("a quiet month", 10, "quiet");

  // One day just written to: a new point in the middle of the month, not yet rebuilt.
  const mid = window.begin + 15 * 86_400_000 + 12 * 3_600_000;
  const late: DataFrame[] = [
    {
      begin: mid,
      end: mid + 3_600_000,
      points: [
        {
          type: "instance",
          unit: "instance",
          qty: 1_000_000_000n,
          price: 50_000_000n,
          groupby: { project_id: "project-late", id: "res-late" },
          metadata: {},
        },
      ],
    },
  ];
  await on.push(late);
  say("With one day just written to (a point pushed into day 16, the day not rebuilt yet: it is read from raw points):");
  say();
  out.oneDayWritten = await measure("one day just written", 3, "one_day_written");
  await on.builder.runOnce(Date.now(), { quiet: false });

  // ---- Cost by window: a week of the month against the whole month, by id.
  const week = { begin: window.begin, end: window.begin + 7.5 * 86_400_000 };
  const scaling: Record<string, unknown> = {};
  say("Cost against the window (by `id`, every group; ms): rollups grow with groups × days, raw points with points.");
  say();
  say("| window | points | ratestore, rollups | ratestore, raw points |");
  say("| --- | ---: | ---: | ---: |");
  for (const [name, w] of [
    ["first 7.5 days", week],
    ["the whole month", window],
  ] as const) {
    const [mine, rawMs] = await interleaved(
      opts.runs,
      () => total(on, { ...w, groupby: ["id"], paginate: false }),
      () => total(rawReads, { ...w, groupby: ["id"], paginate: false }),
    );
    const n =
      (await total(rawReads, { ...w })).results.length > 0 ? Math.round((points * (w.end - w.begin)) / (window.end - window.begin)) : 0;
    scaling[name] = { points: n, rollups: median(mine), raw: median(rawMs) };
    say(`| ${name} | ${fmt(n)} | ${ms(median(mine))} | ${ms(median(rawMs))} |`);
  }
  say();
  out.scaling = scaling;

  // ---- A year of daily periods.
  const yearStarted = performance.now();
  await withConcurrency([...pushes(opts.year)], 2, async (frames) => void (await year.push(frames)));
  await year.builder.runOnce(Date.now(), { quiet: false });
  const yearLoad = (performance.now() - yearStarted) / 1000;
  await raw.transport.request({ method: "PUT", path: "/bench-ry-points-*/_settings", body: { "index.requests.cache.enable": false } });
  const yw = windowOf(opts.year);
  const yearRows: Record<string, unknown> = {};
  say(
    `A year of daily periods: ${fmt(opts.year.points)} points (${fmt(opts.year.projects * opts.year.resourcesPerProject)} resources), loaded and built in ${yearLoad.toFixed(0)} s; ms, median of ${opts.runs}:`,
  );
  say();
  say("| question | ratestore, rollups | ratestore, raw points | raw / rollups |");
  say("| --- | ---: | ---: | ---: |");
  for (const groupby of [["project_id"], ["time-m", "project_id"], ["id"]]) {
    const options = { ...yw, groupby, paginate: false };
    if (text(await total(year, options)) !== text(await total(yearRaw, options)))
      throw new Error(`rollups and raw points differ over the year by ${groupby}`);
    const [mine, rawMs] = await interleaved(
      opts.runs,
      () => total(year, options),
      () => total(yearRaw, options),
    );
    yearRows[groupby.join(",")] = { rollups: median(mine), raw: median(rawMs) };
    say(`| by ${groupby.join(", ")} | ${ms(median(mine))} | ${ms(median(rawMs))} | ${(median(rawMs) / median(mine)).toFixed(1)} |`);
  }
  say();
  out.year = { points: opts.year.points, loadSeconds: yearLoad, rows: yearRows };

  say("Upkeep, builds and sizes:");
  say();
  say("| figure | value | goal | met |");
  say("| --- | ---: | ---: | --- |");
  say(
    `| push with rollup upkeep over push without (median of ${upkeep.length} interleaved rounds; ${fmt(median(rates.on))} against ${fmt(median(rates.off))} points/s) | ${upkeepRatio.toFixed(2)} | ≥ 0.9 | ${upkeepRatio >= 0.9 ? "yes" : "**no**"} |`,
  );
  say(
    `| a day rebuilt from ${fmt(points / 30)} points: median / slowest of ${times.days.length} (ms) | ${ms(dayP50)} / ${ms(dayMax)} | ≤ 2,000 | ${dayMax <= 2000 ? "yes" : "**no**"} |`,
  );
  say(`| the month rebuilt from its days (ms) | ${times.months.map(ms).join(", ")} | | |`);
  say(
    `| rollup documents' share of the partition (${(sizes.withRollups / 2 ** 20).toFixed(1)} MB with them, ${(sizes.points / 2 ** 20).toFixed(1)} MB without) | ${(rollupShare * 100).toFixed(1)} % | ≤ 5 % | ${rollupShare <= 0.05 ? "yes" : "**no**"} |`,
  );
  const perPointRatio = perPoint.ratestore / perPoint.cloudkitty;
  say(
    `| bytes per point, ratestore (points only) / CloudKitty's index (${perPoint.ratestore.toFixed(0)} / ${perPoint.cloudkitty.toFixed(0)}) | ${perPointRatio.toFixed(2)} | ≤ 1.5 | ${perPointRatio <= 1.5 ? "yes" : "**no**"} |`,
  );
  say();
  for (const b of [on, off, year, rawReads, yearRaw]) await b.close();
  return out;
}
