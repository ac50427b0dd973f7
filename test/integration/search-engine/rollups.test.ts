import { expect } from "chai";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TotalServed, StorageObserver, TotalOptions, TotalResult } from "../../../src/storage/backend.js";
import type { StorageConfig } from "../../../src/config.js";
import type { DataFrame, RatedPoint } from "../../../src/storage/dataframe.js";
import { formatNanos } from "../../../src/storage/decimal.js";
import { SearchEngineBackend } from "../../../src/storage/search-engine/backend.js";
import { NO_OBSERVER } from "../../../src/storage/backend.js";
import type { BuildRun } from "../../../src/storage/search-engine/rollups/rollup-builder.js";
import type { DayStateDoc } from "../../../src/storage/search-engine/rollups/rollup-states.js";
import { spawnCli } from "../../support/cli.js";
import { freshBackend, testLogger } from "../../support/cluster.js";
import { startApi, type TestApi } from "../../support/api.js";
import { HOUR, dec, wireFrames } from "../../support/data.js";
import { startFaultProxy } from "../../support/fault-proxy.js";
import { total } from "../../../src/storage/reads.js";
import { clusterUrl, forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;

const DAY = 86_400_000;
const FEB = Date.parse("2024-02-01T00:00:00Z");
const MAR = Date.parse("2024-03-01T00:00:00Z");
const day = (n: number) => FEB + (n - 1) * DAY;
const TYPES = ["cpu", "image.size", "volume.size"];
const PROJECTS = ["proj-a", "proj-b"];

/** A point of a project, type and resource, with amounts that differ by day and hour. */
function point(p: number, t: number, k: number, d: number, h: number): RatedPoint {
  return {
    type: TYPES[t]!,
    unit: "u",
    qty: dec(`${1 + k + t}.${d}${h}`),
    price: dec(`${p + 1}.${String(d).padStart(2, "0")}${h}${t}${k}000001`),
    groupby: { project_id: PROJECTS[p]!, id: `${PROJECTS[p]}-${TYPES[t]}-${k}`, ...(k === 1 ? { user_id: `u${p}` } : {}) },
    metadata: { flavor: `f${k}` },
  };
}

/** Every day of February 2024, four hourly periods a day (00, 06, 12, 18 h), 12 points each. */
function february(): DataFrame[] {
  const frames: DataFrame[] = [];
  for (let d = 1; d <= 29; d++)
    for (const h of [0, 6, 12, 18]) {
      const points: RatedPoint[] = [];
      for (let p = 0; p < 2; p++) for (let t = 0; t < 3; t++) for (let k = 0; k < 2; k++) points.push(point(p, t, k, d, h));
      frames.push({ begin: day(d) + h * HOUR, end: day(d) + (h + 1) * HOUR, points });
    }
  return frames;
}

/** The summaries compared: groupings, time groups, filters, windows with partial days. */
const QUESTIONS: TotalOptions[] = (
  [
    {},
    { groupby: ["project_id"] },
    { groupby: ["project_id", "type"] },
    { groupby: ["id"] },
    { groupby: ["user_id", "type"] },
    { groupby: ["time-d", "project_id"] },
    { groupby: ["time-w"] },
    { groupby: ["time-m", "type"] },
    { groupby: ["time-y"] },
    { groupby: ["time"] },
    { groupby: ["project_id"], groupFilters: { project_id: "proj-a" }, metricTypes: ["cpu", "volume.size"] },
    { groupby: ["id"], groupFilters: { user_id: null } },
    { groupby: ["type"], filters: { flavor: "f1" } },
    { groupby: ["id"], limit: 5, offset: 3 },
  ] as TotalOptions[]
).flatMap((q) => [
  { ...q, begin: FEB, end: MAR },
  { ...q, begin: day(3) + 5 * HOUR, end: day(20) + 13 * HOUR },
  { ...q, begin: day(10), end: day(11) },
]);

function text(r: TotalResult): string[] {
  return [
    `total ${r.total}`,
    ...r.results.map((row) => `${JSON.stringify(row.groups)} ${row.begin} ${row.end} ${formatNanos(row.qty)} ${formatNanos(row.rate)}`),
  ];
}

/** The sums of the points, computed here. */
function sums(frames: readonly DataFrame[]): { qty: string; rate: string } {
  let qty = 0n;
  let rate = 0n;
  for (const f of frames) for (const p of f.points) [qty, rate] = [qty + p.qty, rate + p.price];
  return { qty: formatNanos(qty), rate: formatNanos(rate) };
}

/** Records the plans of summaries. */
class Plans implements StorageObserver {
  readonly seen: TotalServed[] = [];
  bulkRequest = NO_OBSERVER.bulkRequest;
  refresh = NO_OBSERVER.refresh;
  rollupBuild = NO_OBSERVER.rollupBuild;
  rollupBacklog = NO_OBSERVER.rollupBacklog;
  totalPlan(plan: TotalServed): void {
    this.seen.push(plan);
  }
  last(): TotalServed & { keys?: readonly string[] } {
    return this.seen[this.seen.length - 1]!;
  }
}

const ROLLUPS = { enabled: true, intervalSeconds: 1, quietSeconds: 0, marks: true };

/** A second backend on the same indices that reads raw points only: the answer rollups must give. */
async function rawReader(config: StorageConfig): Promise<SearchEngineBackend> {
  const reader = new SearchEngineBackend({ ...config, rollups: { ...config.rollups, enabled: false } }, testLogger);
  await reader.connect();
  return reader;
}

/**
 * Runs the builder until no day is left for a later run: one held off by a write that may be in flight
 * (another instance's finished writes hold their marks a moment longer, write-marks.ts), or whose build a
 * write raced (a write's mark settles a moment after its last answer, and a build that read the day
 * before that cannot record itself), as the background builder's next run would.
 */
async function buildAll(backend: SearchEngineBackend): Promise<BuildRun> {
  for (let i = 0; ; i++) {
    const run = await backend.builder.runOnce();
    if (!(run.days.writing || run.days.raced) || i >= 40) return run;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function sameAsRaw(backend: SearchEngineBackend, raw: SearchEngineBackend, questions = QUESTIONS): Promise<void> {
  for (const q of questions) {
    const [got, want] = await Promise.all([total(backend, q), total(raw, q)]);
    expect(text(got), JSON.stringify(q)).to.deep.equal(text(want));
  }
}

forEachEngine("storage: summaries from exact rollups, equal to raw points after every kind of change", () => {
  let backend: Backend;
  let raw: SearchEngineBackend;
  const plans = new Plans();
  const frames = february();
  const whole = { begin: FEB, end: MAR, groupby: ["project_id", "type"] };

  before(async () => {
    backend = await freshBackend({ rollups: ROLLUPS }, plans);
    raw = await rawReader(backend.config);
    const res = await backend.push(frames);
    expect(res.stored).to.equal(29 * 4 * 12);
  });
  after(async () => {
    await raw.close();
    await backend.drop();
  });

  it("reads raw points until the first build, and the totals are those of the points", async () => {
    await sameAsRaw(backend, raw);
    const all = await total(backend, { begin: FEB, end: MAR });
    expect({ qty: formatNanos(all.results[0]!.qty), rate: formatNanos(all.results[0]!.rate) }).to.deep.equal(sums(frames));
    expect(plans.last()).to.deep.include({ served: "raw", reason: "no_clean_day" });
    expect((await backend.rollupStatus()).days).to.deep.equal({ clean: 0, dirty: 29, raw: 0 });
  });

  it("after a build, whole days and the month come from rollups, exactly", async () => {
    const run = await backend.builder.runOnce();
    expect(run).to.deep.include({ leader: true, days: { built: 29 }, months: { built: 1 } });
    await sameAsRaw(backend, raw);
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ served: "rollups", rollupDays: 29, rawDays: 0 });
    expect(plans.last().keys).to.have.length(1);
    expect(plans.last().keys![0]).to.match(/^m:2024-02:/);
    await total(backend, { ...whole, groupby: ["time-d"] });
    expect(plans.last().keys).to.have.length(29);
    // A window longer than the states read by id: they are searched, and serve the same.
    const long = { begin: FEB - 500 * DAY, end: MAR, groupby: ["project_id"] };
    await sameAsRaw(backend, raw, [long]);
    expect(plans.last()).to.deep.include({ served: "rollups", rollupDays: 29 });
    const all = await total(backend, { begin: FEB, end: MAR });
    expect({ qty: formatNanos(all.results[0]!.qty), rate: formatNanos(all.results[0]!.rate) }).to.deep.equal(sums(frames));
    const status = await backend.rollupStatus();
    expect(status.days).to.deep.equal({ clean: 29, dirty: 0, raw: 0 });
    // Rollups sit beside their points and are not counted as points.
    const partitions = await backend.describePartitions();
    expect(partitions.map((p) => p.docs)).to.deep.equal([29 * 4 * 12]);
  });

  it("a late push into a built day is seen by the next read (from raw points for that day), then rebuilt", async () => {
    const late: DataFrame = { begin: day(10) + 7 * HOUR, end: day(10) + 8 * HOUR, points: [point(0, 0, 0, 10, 7), point(1, 2, 1, 10, 7)] };
    await backend.push([late]);
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ served: "rollups", rollupDays: 28, rawDays: 1 });
    await sameAsRaw(backend, raw);
    const all = await total(backend, { begin: FEB, end: MAR });
    expect({ qty: formatNanos(all.results[0]!.qty), rate: formatNanos(all.results[0]!.rate) }).to.deep.equal(sums([...frames, late]));
    expect(await backend.builder.runOnce()).to.deep.include({ days: { built: 1 }, months: { built: 1 } });
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 29, rawDays: 0 });
    await sameAsRaw(backend, raw);
  });

  it("an instance that does not read rollups still marks what it writes: no rollup read elsewhere goes stale", async () => {
    await raw.push([{ begin: day(11) + 7 * HOUR, end: day(11) + 8 * HOUR, points: [point(1, 0, 1, 11, 7)] }]);
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 28, rawDays: 1 });
    await sameAsRaw(backend, raw);
    expect(await buildAll(backend)).to.deep.include({ days: { built: 1 }, months: { built: 1 } });
  });

  it("a point whose period runs past midnight: its first day is read from raw points from then on, exactly", async () => {
    const crossing: DataFrame = { begin: day(8) + 23 * HOUR, end: day(9) + HOUR / 2, points: [point(0, 1, 1, 8, 23)] };
    await backend.push([crossing]);
    await sameAsRaw(backend, raw);
    expect(await backend.builder.runOnce()).to.deep.include({ days: { raw: 1 } });
    expect((await backend.rollupStatus()).pending).to.deep.include({
      day: "2024-02-08",
      status: "raw",
      reason: "periods that run past midnight start in it (1 points)",
    });
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 28, rawDays: 1 });
    await sameAsRaw(backend, raw);
    // Deleted, the day is rolled up again.
    expect((await backend.delete({ begin: crossing.begin, end: crossing.end })).deleted).to.equal(1);
    expect(await backend.builder.runOnce()).to.deep.include({ days: { built: 1 }, months: { built: 1 } });
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 29, rawDays: 0 });
    await sameAsRaw(backend, raw);
  });

  it("pushing the same points again stores nothing and dirties nothing", async () => {
    const res = await backend.push(frames.slice(0, 40));
    expect(res).to.deep.include({ stored: 0, duplicates: 40 * 12 });
    expect((await backend.rollupStatus()).days).to.deep.equal({ clean: 29, dirty: 0, raw: 0 });
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 29, rawDays: 0 });
    await sameAsRaw(backend, raw);
  });

  it("a delete with filters is seen at once, then rebuilt", async () => {
    const res = await backend.delete({ begin: day(12), end: day(13), groupFilters: { project_id: "proj-a" }, metricTypes: "cpu" });
    expect(res.deleted).to.equal(4 * 2);
    expect((await backend.rollupStatus()).days).to.deep.include({ dirty: 1 });
    await sameAsRaw(backend, raw);
    expect(await backend.builder.runOnce()).to.deep.include({ days: { built: 1 }, months: { built: 1 } });
    await sameAsRaw(backend, raw);
    // A delete that matches nothing changes nothing.
    expect(
      (await backend.delete({ begin: day(12), end: day(13), groupFilters: { project_id: "proj-a" }, metricTypes: "cpu" })).deleted,
    ).to.equal(0);
    expect((await backend.rollupStatus()).days).to.deep.include({ dirty: 0 });
  });

  it("a builder killed mid-build leaves its day dirty (read from raw points), never wrong, and the next build clears its leftovers", async function () {
    this.timeout(240_000);
    // Pushed by an instance that stops right after, so that no mark of the push is left for the build to wait on.
    const writer = new SearchEngineBackend(backend.config, testLogger);
    await writer.connect();
    await writer.push([{ begin: day(15) + 9 * HOUR, end: day(15) + 10 * HOUR, points: [point(1, 1, 0, 15, 9)] }]);
    await writer.close();
    // The builder's lease is free (this suite's builder runs by hand), as when the service holding it died.
    await backend.client.request({ method: "DELETE", path: `/${backend.config.indexPrefix}-locks/_doc/rollup-builder` }, [404]);
    // The build's last step, recording itself in the day's state, never reaches the node: the process is killed there.
    const proxy = await startFaultProxy(clusterUrl(), {
      bulk503: 0,
      bulkItems429: 0,
      swallow: [{ path: "-rollups/_doc/day-2024-02-15", method: "PUT", count: 1 }],
    });
    const child = spawnCli(
      ["rollups", "rebuild", "--begin", "2024-02-15", "--end", "2024-02-16"],
      { RATESTORE_CLUSTER_URL: proxy.url, RATESTORE_INDEX_PREFIX: backend.config.indexPrefix, RATESTORE_RETENTION_MECHANISM: "none" },
      mkdtempSync(join(tmpdir(), "ratestore-rollups-")),
    );
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    for (let i = 0; i < 1200 && !proxy.seen.requests.includes("PUT /" + backend.config.indexPrefix + "-rollups/_doc/day-2024-02-15"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(proxy.seen.requests, `${stderr} ${proxy.seen.requests.join(" ")}`).to.include(
      `PUT /${backend.config.indexPrefix}-rollups/_doc/day-2024-02-15`,
    );
    child.kill("SIGKILL");
    await exited;
    await proxy.close();
    // The dead process's lease would lapse within a minute; this suite's builder takes it back now.
    await backend.client.request({ method: "DELETE", path: `/${backend.config.indexPrefix}-locks/_doc/rollup-builder` }, [404]);
    expect((await backend.rollupStatus()).pending).to.deep.include({ day: "2024-02-15", status: "dirty" });
    await total(backend, whole);
    expect(plans.last()).to.deep.include({ rollupDays: 28, rawDays: 1 });
    await sameAsRaw(backend, raw);
    // The killed build's documents are there, unused; the next build replaces them.
    const prefix = "d:2024-02-15:";
    const docsOf = async () => {
      await backend.client.request({ method: "POST", path: `/${backend.partitions.alias}/_refresh` });
      const r = await backend.client.request<{ count: number }>({
        method: "POST",
        path: `/${backend.partitions.alias}/_count`,
        body: { query: { prefix: { rollup: prefix } } },
      });
      return r.body.count;
    };
    const before = await docsOf();
    expect(await backend.builder.buildDay(day(15), Date.now(), false)).to.equal("built");
    const { doc } = await backend.builder["states"].get<DayStateDoc>("day-2024-02-15");
    expect(before).to.be.greaterThan(doc!.groups!);
    expect(await docsOf()).to.equal(doc!.groups);
    await sameAsRaw(backend, raw);
  });

  it("a push whose marks are refused for a while (503, 429 items) retries them and stores every point; the day reads from raw points", async () => {
    const proxy = await startFaultProxy(clusterUrl(), { bulk503: 2, bulkItems429: 2, bulkPath: "-rollups/_bulk" });
    const behind = new SearchEngineBackend({ ...backend.config, cluster: { ...backend.config.cluster, urls: [proxy.url] } }, testLogger);
    try {
      await behind.connect();
      const res = await behind.push([{ begin: day(18) + 9 * HOUR, end: day(18) + 10 * HOUR, points: [point(0, 2, 0, 18, 9)] }]);
      expect(res).to.deep.include({ stored: 1, failed: [], unknown: [] });
      expect(proxy.seen.requests.filter((r) => r.endsWith("-rollups/_bulk")).length).to.be.at.least(4);
      expect((await backend.rollupStatus()).pending).to.deep.include({ day: "2024-02-18", status: "dirty" });
      await sameAsRaw(backend, raw);
    } finally {
      await behind.close();
      await proxy.close();
    }
    expect(await backend.builder.runOnce()).to.deep.include({ days: { built: 1 } });
  });

  it("two instances pushing and building at once: every answer equals raw points", async function () {
    this.timeout(180_000);
    const other = new SearchEngineBackend(backend.config, testLogger);
    await other.init();
    try {
      for (let round = 0; round < 5; round++) {
        const hour = 13 + round;
        await Promise.all([
          backend.push([{ begin: day(20) + hour * HOUR, end: day(20) + (hour + 1) * HOUR, points: [point(0, 1, 0, 20, hour)] }]),
          other.push([{ begin: day(20) + hour * HOUR, end: day(20) + (hour + 1) * HOUR, points: [point(1, 1, 1, 20, hour)] }]),
          other.push([{ begin: day(21) + hour * HOUR, end: day(21) + (hour + 1) * HOUR, points: [point(1, 0, 1, 21, hour)] }]),
          backend.builder.buildDay(day(20), Date.now(), false),
          other.builder.buildDay(day(20), Date.now(), false),
          other.builder.buildDay(day(21), Date.now(), false),
          backend.builder.buildMonth(FEB),
        ]);
        // Every push has answered: the next read sees all of them.
        await sameAsRaw(backend, raw, QUESTIONS.slice(0, 9));
      }
      expect(await buildAll(backend)).to.deep.include({ leader: true });
      expect((await backend.rollupStatus()).days).to.deep.include({ dirty: 0 });
      await total(backend, whole);
      expect(plans.last()).to.deep.include({ rollupDays: 29, rawDays: 0 });
      await sameAsRaw(backend, raw);
    } finally {
      await other.close();
    }
  });
});

forEachEngine("storage: rollups under retention", () => {
  let backend: Backend;
  let raw: SearchEngineBackend;
  // Taken when the suite starts, not when mocha loads the file.
  let today = 0;
  const frames = (d: number): DataFrame[] =>
    [1, 5].map((h) => ({ begin: d + h * HOUR, end: d + (h + 1) * HOUR, points: [point(0, 0, 0, 1, h), point(1, 2, 1, 1, h)] }));

  before(async () => {
    today = Math.floor(Date.now() / DAY) * DAY;
    backend = await freshBackend({
      rollups: ROLLUPS,
      partition: "day",
      retentionMechanism: "sweeper",
      retentionHours: 48,
      sweepGraceSeconds: 0,
    });
    raw = await rawReader(backend.config);
    expect((await backend.push([...frames(today - DAY), ...frames(today)])).stored).to.equal(8);
  });
  after(async () => {
    await raw.close();
    await backend.drop();
  });

  it("a swept partition takes its rollups with it: summaries equal raw points before and after", async () => {
    expect(await backend.builder.runOnce()).to.deep.include({ days: { built: 2 } });
    const window = { begin: today - DAY, end: today + DAY, groupby: ["project_id"] };
    await sameAsRaw(backend, raw, [window, { ...window, groupby: ["time-d"] }]);
    // Past yesterday's partition's end + 48 h, before today's: counted from the day, not the clock, so
    // a run after 23:00 UTC does not sweep today's partition too.
    const swept = await backend.sweepRetention(today + 2 * DAY + HOUR);
    expect(swept.deleted).to.have.length(1);
    await sameAsRaw(backend, raw, [window, { ...window, groupby: ["time-d"] }, { begin: today - DAY, end: today + DAY }]);
    const left = await total(backend, { begin: today - DAY, end: today + DAY });
    expect(formatNanos(left.results[0]!.rate)).to.equal(sums(frames(today)).rate);
    // The builder forgets the day whose partition is gone.
    await backend.push([{ begin: today + 9 * HOUR, end: today + 10 * HOUR, points: [point(1, 1, 1, 1, 9)] }]);
    await backend.builder.buildDay(today - DAY, Date.now(), false);
    await backend.builder.runOnce();
    await sameAsRaw(backend, raw, [window, { begin: today - DAY, end: today + DAY }]);
  });
});

forEachEngine("API: summaries from rollups, seen in /metrics", () => {
  let api: TestApi;
  const frames = february().filter((f) => f.begin < day(4));
  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await (await api.call("/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`) || (labels === "" && l.startsWith(`${name} `)));
    return line ? Number(line.split(" ").pop()) : 0;
  };
  /** proj-a's rate, as the exact decimal text the API wrote. */
  const summary = async () => {
    const res = await api.call("/v2/summary?begin=2024-02-01T00:00:00Z&end=2024-02-04T00:00:00Z&groupby=project_id");
    expect(res.status).to.equal(200);
    // Table rows: begin, end, qty, rate, project_id.
    return /,(-?[0-9.]+),"proj-a"\]/.exec(await res.text())![1]!;
  };

  before(async () => {
    api = await startApi({}, testLogger, { rollups: ROLLUPS });
    expect((await api.call("/v2/dataframes", { json: { dataframes: wireFrames(frames) } })).status).to.equal(204);
    await api.backend.builder.runOnce();
  });
  after(async () => api.close());

  it("counts rollup hits, then a fallback to raw points for the day just pushed to, which the read already sees", async () => {
    const hits = await metric("ratestore_summary_days_total", 'served="rollup"');
    const before = await summary();
    expect(await metric("ratestore_summary_days_total", 'served="rollup"')).to.equal(hits + 3);
    const late = { begin: day(2) + 9 * HOUR, end: day(2) + 10 * HOUR, points: [point(0, 0, 0, 2, 9)] };
    expect((await api.call("/v2/dataframes", { json: { dataframes: wireFrames([late]) } })).status).to.equal(204);
    const raw = await metric("ratestore_summary_days_total", 'served="raw"');
    const after = await summary();
    // The day pushed to is read from raw points, the two others from rollups, and the push is in the answer.
    expect(await metric("ratestore_summary_days_total", 'served="raw"')).to.equal(raw + 1);
    expect(await metric("ratestore_summary_days_total", 'served="rollup"')).to.equal(hits + 5);
    expect(dec(after) - dec(before)).to.equal(late.points[0]!.price);
    await api.backend.builder.backlog();
    expect(await metric("ratestore_rollup_dirty_days", "")).to.equal(1);
    await api.backend.builder.runOnce();
    await api.backend.builder.backlog();
    expect(await metric("ratestore_rollup_dirty_days", "")).to.equal(0);
    expect(await metric("ratestore_rollup_build_duration_seconds_count", 'level="day",outcome="built"')).to.equal(4);
    expect(await summary()).to.deep.equal(after);
    expect(await metric("ratestore_summary_days_total", 'served="rollup"')).to.equal(hits + 8);
  });
});
