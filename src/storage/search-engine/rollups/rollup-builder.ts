/**
 * Re-derives rollups from raw points: a day's rollup documents (one per type and full set of groupby
 * values, with the exact sums of the limbs and the point count) from the day's points, and a month's
 * from the rollups of its days. A build is written beside the old one, under a key of its own, and
 * becomes the one reads use only by compare-and-set on the state it started from: a write that raced it
 * moved the state, so a raced build is never used. One builder works at a time across instances (a lease).
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "../../../logger.js";
import type { ClusterClient } from "../client.js";
import { limbFields } from "../documents.js";
import { Lease, type LeaseVersion } from "../lease.js";
import type { Partitions } from "../partitions.js";
import type { Clause } from "../query.js";
import { inexactSum } from "../../limbs.js";
import { monthSignature, type DayState } from "./rollup-plan.js";
import {
  DAY_MS,
  dayKeyPrefix,
  dayOf,
  dayRollupKey,
  dayStateId,
  daysOfMonth,
  monthKeyPrefix,
  monthOf,
  monthRollupKey,
  monthStateId,
} from "./rollup-calendar.js";
import type { DayStateDoc, MonthStateDoc, RollupStates } from "./rollup-states.js";

export interface RollupSettings {
  /** How often the builder looks for dirty days. */
  readonly intervalMs: number;
  /** How long a day stays unwritten before it is rebuilt: successive pushes of one day cost one build. */
  readonly quietMs: number;
  /** Whether month rollups are built (months lie within one partition: month and year partitions). */
  readonly monthLevel: boolean;
}

/** What the builder reports, for metrics. */
export interface RollupObserver {
  rollupBuild(level: "day" | "month", outcome: string, seconds: number): void;
  rollupBacklog(dirtyDays: number, lagSeconds: number): void;
}

export type DayOutcome = "built" | "raw" | "gone" | "clean" | "writing" | "not_quiet" | "raced";
export type MonthOutcome = "built" | "current" | "not_clean" | "adopted" | "raced";

export interface BuildRun {
  /** false: another instance holds the builder's lease; this one did nothing. */
  readonly leader: boolean;
  readonly days: Readonly<Partial<Record<DayOutcome, number>>>;
  readonly months: Readonly<Partial<Record<MonthOutcome, number>>>;
}

/** Composite buckets per page while building. */
const BUILD_PAGE = 5000;

const SUM_FIELDS = [...limbFields("qty"), ...limbFields("price")];

interface Bucket {
  key: Record<string, string | null>;
  doc_count: number;
  [sum: string]: unknown;
}

interface CompositeAnswer {
  aggregations?: { groups?: { buckets: Bucket[]; after_key?: Record<string, string | null> } };
}

const newBuild = (): string => randomBytes(6).toString("base64url");

export class RollupBuilder {
  private readonly lease: Lease;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private adopted = false;
  /** Months whose rollup may be out of date: those of days built since, and every month at the first run. */
  private readonly staleMonths = new Set<number>();

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly states: RollupStates,
    locks: ConstructorParameters<typeof Lease>[1],
    private readonly settings: RollupSettings,
    private readonly logger: Logger,
    private readonly observer: RollupObserver,
    /** Settles the marks this process's writes left (write-marks.ts), so that its own finished writes do not hold builds off. */
    private readonly settleOwnMarks: () => Promise<void> = async () => {},
  ) {
    this.lease = new Lease(client, locks, "rollup-builder", settings.intervalMs);
  }

  /** The groupby keys a partition's points have (its mapping), or undefined when the partition is gone. */
  private async shape(index: string): Promise<{ keys: string[]; legacy: boolean } | undefined> {
    const res = await this.client.request<Record<string, { mappings?: { properties?: Record<string, { properties?: object }> } }>>(
      { method: "GET", path: `/${index}/_mapping` },
      [404],
    );
    if (res.status === 404) return undefined;
    const props = Object.values(res.body)[0]?.mappings?.properties ?? {};
    return { keys: Object.keys(props.groupby?.properties ?? {}).sort(), legacy: "qty_units" in props };
  }

  /**
   * Aggregates the documents `query` matches in `index` by type and every groupby key, and writes one
   * rollup document per group under `key`: the limbs' exact sums and the point count.
   */
  private async write(
    index: string,
    query: Clause,
    groupKeys: readonly string[],
    key: string,
    at: number,
    base: number,
    counts: "documents" | "rollup_points",
  ): Promise<{ docs: number; points: number; limbs: string[] }> {
    const sources = [
      { t: { terms: { field: "type" } } },
      ...groupKeys.map((k, i) => ({ [`g${i}`]: { terms: { field: `groupby.${k}`, missing_bucket: true } } })),
    ];
    const aggs: Record<string, unknown> = Object.fromEntries(SUM_FIELDS.map((f) => [f, { sum: { field: f } }]));
    if (counts === "rollup_points") aggs.points = { sum: { field: "rollup_points" } };
    const start = new Date(at).toISOString();
    let after: Record<string, string | null> | undefined;
    let docs = 0;
    let points = 0;
    const limbs = new Set<string>();
    for (;;) {
      const res = await this.client.request<CompositeAnswer>({
        method: "POST",
        path: `/${index}/_search`,
        body: {
          size: 0,
          track_total_hits: false,
          query,
          aggs: { groups: { composite: { size: BUILD_PAGE, sources, ...(after ? { after } : {}) }, aggs } },
        },
      });
      const groups = res.body.aggregations?.groups;
      const buckets = groups?.buckets ?? [];
      const lines: string[] = [];
      for (const b of buckets) {
        const groupby: Record<string, string> = {};
        groupKeys.forEach((k, i) => {
          const v = b.key[`g${i}`];
          if (v !== null && v !== undefined) groupby[k] = v;
        });
        const doc: Record<string, unknown> = { start, type: b.key.t, groupby };
        const sums = SUM_FIELDS.map((f) => (b[f] as { value?: number } | undefined)?.value ?? 0);
        const why = inexactSum(sums);
        if (why) throw new Error(`rollup ${key}: ${why}`);
        SUM_FIELDS.forEach((f, i) => {
          if (sums[i] === 0) return;
          doc[f] = sums[i];
          limbs.add(f);
        });
        const n = counts === "documents" ? b.doc_count : ((b.points as { value?: number } | undefined)?.value ?? 0);
        points += n;
        Object.assign(doc, { rollup: key, rollup_points: n, rollup_base: base });
        lines.push(JSON.stringify({ index: { _index: index, _id: `${key}.${docs}` } }), JSON.stringify(doc));
        docs++;
      }
      if (lines.length > 0) {
        const written = await this.client.request<{ errors: boolean; items: Record<string, { error?: unknown }>[] }>({
          method: "POST",
          path: "/_bulk",
          querystring: { filter_path: "errors,items.*.error" },
          bulkBody: lines.join("\n") + "\n",
        });
        if (written.body.errors) {
          const failed = written.body.items.map((i) => Object.values(i)[0]?.error).find(Boolean);
          throw new Error(`rollup ${key}: a rollup document was refused: ${JSON.stringify(failed)}`);
        }
      }
      after = groups?.after_key;
      if (!after || buckets.length < BUILD_PAGE) break;
    }
    // Reads that find the build recorded must find its documents.
    await this.client.request({ method: "POST", path: `/${index}/_refresh` });
    return { docs, points, limbs: [...limbs].sort() };
  }

  /** Deletes the documents of a build that was not recorded (ids are the key and a counter). */
  private async dropBuild(index: string, key: string, docs: number): Promise<void> {
    for (let i = 0; i < docs; i += BUILD_PAGE) {
      const lines: string[] = [];
      for (let j = i; j < Math.min(docs, i + BUILD_PAGE); j++)
        lines.push(JSON.stringify({ delete: { _index: index, _id: `${key}.${j}` } }));
      await this.client.request({ method: "POST", path: "/_bulk", bulkBody: lines.join("\n") + "\n" });
    }
  }

  /**
   * Deletes the rollup documents of a day or month that the recorded build replaced: those of other
   * builds that started from a state no later than this one's. A build that started later (from the
   * state this one recorded, or after) may be recorded next, so its documents are left alone.
   */
  private async dropReplaced(index: string, prefix: string, key: string, base: number): Promise<void> {
    for (;;) {
      const res = await this.client.request<{ hits: { hits: { _id: string }[] } }>({
        method: "POST",
        path: `/${index}/_search`,
        body: {
          size: 10_000,
          _source: false,
          track_total_hits: false,
          query: {
            bool: {
              filter: [{ prefix: { rollup: prefix } }, { range: { rollup_base: { lte: base } } }],
              must_not: [{ term: { rollup: key } }],
            },
          },
        },
      });
      const hits = res.body.hits.hits;
      if (hits.length === 0) return;
      await this.client.request({
        method: "POST",
        path: "/_bulk",
        bulkBody: hits.map((h) => JSON.stringify({ delete: { _index: index, _id: h._id } }) + "\n").join(""),
      });
      await this.client.request({ method: "POST", path: `/${index}/_refresh` });
    }
  }

  /**
   * Rebuilds a dirty day from its raw points. `quiet: false` builds it even if it was written to within
   * the quiet time (the CLI's rebuild); a write in flight always holds it off.
   */
  async buildDay(day: number, now = Date.now(), quiet = true): Promise<DayOutcome> {
    const started = performance.now();
    const outcome = await this.buildDayOnce(day, now, quiet);
    this.observer.rollupBuild("day", outcome, (performance.now() - started) / 1000);
    if (outcome === "built" || outcome === "gone") this.staleMonths.add(monthOf(day));
    return outcome;
  }

  private async buildDayOnce(day: number, now: number, quiet: boolean): Promise<DayOutcome> {
    const id = dayStateId(day);
    // Before the state is read: settling a mark of this process sets the day dirty again (marked now).
    await this.settleOwnMarks();
    now = Math.max(now, Date.now());
    const { doc: state, version } = await this.states.get<DayStateDoc>(id);
    if (!state || !version || state.status !== "dirty") return "clean";
    if (quiet && (state.marked_at ?? 0) + this.settings.quietMs > now) return "not_quiet";
    // After reading the state: a write marked before it is seen here, one marked after moves the state.
    if (await this.states.writing(day, now)) return "writing";
    const index = this.partitions.indexFor(day);
    const shape = await this.shape(index);
    if (!shape) return (await this.states.remove(id, version)) ? "gone" : "raced";
    const base: DayStateDoc = { kind: "day", at: day, status: "raw", ...(state.marked_at ? { marked_at: state.marked_at } : {}) };
    if (shape.legacy) {
      const reason = "its partition was written before template version 5 (whole and nano parts, not limbs)";
      return (await this.states.put(id, { ...base, reason }, version)) ? "raw" : "raced";
    }
    // Every write acknowledged before the state was read becomes visible; later ones moved the state.
    await this.client.request({ method: "POST", path: `/${this.partitions.alias}/_refresh` }, [404]);
    const end = day + DAY_MS;
    const crossing = await this.client.request<{ count: number }>({
      method: "POST",
      path: `/${this.partitions.alias}/_count`,
      querystring: { ignore_unavailable: true, allow_no_indices: true },
      body: {
        query: {
          bool: {
            filter: [
              { range: { start: { gte: day, lt: end, format: "epoch_millis" } } },
              { range: { end: { gt: end, format: "epoch_millis" } } },
            ],
          },
        },
      },
    });
    if (crossing.body.count > 0) {
      const reason = `periods that run past midnight start in it (${crossing.body.count} points)`;
      return (await this.states.put(id, { ...base, reason }, version)) ? "raw" : "raced";
    }
    const key = dayRollupKey(day, newBuild());
    const query = {
      bool: {
        filter: [
          { range: { start: { gte: day, lt: end, format: "epoch_millis" } } },
          // Rollup documents have no `end`: this keeps to raw points.
          { range: { end: { lte: end, format: "epoch_millis" } } },
        ],
      },
    };
    const built = await this.write(index, query, shape.keys, key, day, version.seqNo, "documents");
    const clean: DayStateDoc = {
      kind: "day",
      at: day,
      status: "clean",
      build: key.slice(dayKeyPrefix(day).length),
      ...(state.marked_at ? { marked_at: state.marked_at } : {}),
      built_at: Date.now(),
      points: built.points,
      groups: built.docs,
      limbs: built.limbs,
    };
    if (!(await this.states.put(id, clean, version))) {
      await this.dropBuild(index, key, built.docs);
      return "raced";
    }
    await this.dropReplaced(index, dayKeyPrefix(day), key, version.seqNo);
    return "built";
  }

  /** Rebuilds a month's rollup from its days' rollups, when every day is clean and the month is not current. */
  async buildMonth(month: number): Promise<MonthOutcome> {
    const started = performance.now();
    const outcome = await this.buildMonthOnce(month);
    this.observer.rollupBuild("month", outcome, (performance.now() - started) / 1000);
    return outcome;
  }

  private async buildMonthOnce(month: number): Promise<MonthOutcome> {
    const id = monthStateId(month);
    const current = await this.states.get<MonthStateDoc>(id);
    const days = await this.states.monthDays(month);
    const dayStates = new Map<number, DayState>(
      [...days].map(([d, v]) => [d, { status: v.doc!.status, ...(v.doc!.build ? { build: v.doc!.build } : {}) }]),
    );
    const signature = monthSignature(month, dayStates);
    if (signature === undefined) return "not_clean";
    if (current.doc?.days === signature) return "current";
    // Days with no state must hold no point (points written before rollups existed get a state first).
    const stateless = daysOfMonth(month).filter((d) => !days.has(d));
    if (stateless.length > 0 && (await this.adoptDays(stateless)) > 0) return "adopted";
    const index = this.partitions.indexFor(month);
    const shape = await this.shape(index);
    const base = current.version?.seqNo ?? -1;
    const key = monthRollupKey(month, newBuild());
    const dayKeys = [...days].map(([d, v]) => `${dayKeyPrefix(d)}${v.doc!.build!}`);
    const built = shape
      ? await this.write(index, { terms: { rollup: dayKeys } }, shape.keys, key, month, base, "rollup_points")
      : { docs: 0, points: 0, limbs: [] };
    const doc: MonthStateDoc = {
      kind: "month",
      at: month,
      build: key.slice(monthKeyPrefix(month).length),
      days: signature,
      built_at: Date.now(),
      groups: built.docs,
      limbs: built.limbs,
    };
    if (!(await this.states.put(id, doc, current.version))) {
      if (shape) await this.dropBuild(index, key, built.docs);
      return "raced";
    }
    if (shape) await this.dropReplaced(index, monthKeyPrefix(month), key, base);
    return "built";
  }

  /** The days holding raw points, of [first, last) or of all time (after a refresh of the partitions). */
  private async daysWithPoints(range?: { first: number; last: number }): Promise<number[]> {
    await this.client.request({ method: "POST", path: `/${this.partitions.alias}/_refresh` }, [404]);
    const points = { exists: { field: "end" } };
    const res = await this.client.request<{ aggregations?: { days?: { buckets: { key: number }[] } } }>(
      {
        method: "POST",
        path: `/${this.partitions.alias}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: {
          size: 0,
          query: range
            ? { bool: { filter: [{ range: { start: { gte: range.first, lt: range.last, format: "epoch_millis" } } }, points] } }
            : points,
          aggs: { days: { date_histogram: { field: "start", calendar_interval: "1d", time_zone: "UTC", min_doc_count: 1 } } },
        },
      },
      [404],
    );
    return (res.body.aggregations?.days?.buckets ?? []).map((b) => dayOf(b.key));
  }

  /**
   * Gives a dirty state to each of these days that holds raw points but has no state (written before
   * rollups existed, or by a release without them), so that it is built; returns how many.
   */
  async adoptDays(candidates: readonly number[]): Promise<number> {
    if (candidates.length === 0) return 0;
    const wanted = new Set(candidates);
    const range = { first: Math.min(...candidates), last: Math.max(...candidates) + DAY_MS };
    return this.giveDirtyStates((await this.daysWithPoints(range)).filter((d) => wanted.has(d)));
  }

  /** Days holding points but no state, anywhere: done once per process, at its first run. */
  private async adoptAll(): Promise<void> {
    const days = await this.daysWithPoints();
    const known = await this.states.getMany(days.map(dayStateId));
    await this.giveDirtyStates(days.filter((d) => !known.has(dayStateId(d))));
    for (const d of days) this.staleMonths.add(monthOf(d));
  }

  /** Creates a dirty state for each day that has none yet (another instance may have made it); returns how many. */
  private async giveDirtyStates(days: readonly number[]): Promise<number> {
    let created = 0;
    for (const day of days) {
      const doc: DayStateDoc = { kind: "day", at: day, status: "dirty", marked_at: 0 };
      if (await this.states.put(dayStateId(day), doc, undefined)) created++;
    }
    return created;
  }

  /** One pass under the lease: quiet dirty days rebuilt, then the months they belong to. */
  async runOnce(now = Date.now(), options: { quiet?: boolean; days?: readonly number[] } = {}): Promise<BuildRun> {
    const dayOutcomes: Partial<Record<DayOutcome, number>> = {};
    const monthOutcomes: Partial<Record<MonthOutcome, number>> = {};
    if (this.running) return { leader: false, days: dayOutcomes, months: monthOutcomes };
    this.running = true;
    try {
      await this.states.ensure();
      let lease: LeaseVersion | undefined = await this.lease.take(now);
      if (!lease) return { leader: false, days: dayOutcomes, months: monthOutcomes };
      const startedAt = Date.now();
      const leading = async () => (lease = lease && (await this.lease.renew(lease, now + (Date.now() - startedAt)))) !== undefined;
      if (!this.adopted) {
        await this.adoptAll();
        this.adopted = true;
      }
      const dirty = options.days ?? (await this.states.daysWithStatus("dirty")).map((s) => s.at);
      for (const day of dirty) {
        if (!(await leading())) break;
        const outcome = await this.buildDay(day, now + (Date.now() - startedAt), options.quiet ?? true);
        dayOutcomes[outcome] = (dayOutcomes[outcome] ?? 0) + 1;
      }
      if (this.settings.monthLevel) {
        for (const month of [...this.staleMonths].sort((a, b) => a - b)) {
          if (!(await leading())) break;
          const outcome = await this.buildMonth(month);
          monthOutcomes[outcome] = (monthOutcomes[outcome] ?? 0) + 1;
          if (outcome === "built" || outcome === "current") this.staleMonths.delete(month);
        }
      }
      await this.states.dropExpiredMarkers(now);
      return { leader: true, days: dayOutcomes, months: monthOutcomes };
    } finally {
      this.running = false;
    }
  }

  /** The backlog, for metrics: dirty days and how long the oldest has waited. */
  async backlog(now = Date.now()): Promise<{ dirtyDays: number; lagSeconds: number }> {
    const dirty = await this.states.daysWithStatus("dirty");
    const oldest = dirty.reduce((m, s) => Math.min(m, s.marked_at ?? now), now);
    const backlog = { dirtyDays: dirty.length, lagSeconds: dirty.length === 0 ? 0 : Math.max(0, (now - oldest) / 1000) };
    this.observer.rollupBacklog(backlog.dirtyDays, backlog.lagSeconds);
    return backlog;
  }

  start(): void {
    const run = async () => {
      try {
        const result = await this.runOnce();
        if (result.leader && (Object.keys(result.days).length > 0 || Object.keys(result.months).length > 0))
          this.logger.info("rollups built", { days: result.days, months: result.months });
      } catch (err) {
        this.logger.warn("rollup build failed; its days are read from raw points until the next run", { error: (err as Error).message });
      }
      try {
        await this.backlog();
      } catch {
        // The backlog gauge keeps its last value: the cluster is unreachable, and /readyz says so.
      }
    };
    this.timer = setInterval(() => void run(), this.settings.intervalMs);
    this.timer.unref();
    setTimeout(() => void run(), 1_000).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
