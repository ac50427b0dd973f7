/** The Prometheus metrics of the service (prom-client), fed by the routes and the storage observer. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { BulkOutcome, RefreshCause, StorageObserver, TotalServed, WriteStats } from "../storage/backend.js";

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BULK_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const REFRESH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BUILD_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/**
 * The service's Prometheus metrics (prom-client: exposition format and label escaping as Prometheus
 * specifies them): process metrics, request latency per route, `_bulk` latency per outcome, and the
 * writer's running totals, and the refreshes sent to the cluster. It is also the storage's observer.
 */
export class Metrics implements StorageObserver {
  readonly registry = new Registry();
  private readonly http: Histogram<"route" | "method" | "status">;
  private readonly bulk: Histogram<"outcome">;
  private readonly bulkPoints: Counter<"outcome">;
  private readonly refreshes: Histogram<"cause">;
  private readonly summaries: Counter<"served" | "reason">;
  private readonly summaryDays: Counter<"served">;
  private readonly builds: Histogram<"level" | "outcome">;
  private readonly dirtyDays: Gauge;
  private readonly buildLag: Gauge;
  private stats: () => Readonly<WriteStats> | undefined = () => undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "ratestore_" });
    this.http = this.histogram(
      "ratestore_http_request_duration_seconds",
      "HTTP request latency by route, method and status.",
      ["route", "method", "status"],
      HTTP_BUCKETS,
    );
    this.bulk = this.histogram(
      "ratestore_bulk_request_duration_seconds",
      "Latency of each _bulk request sent to the cluster, by outcome (ok, items_retried, failed).",
      ["outcome"],
      BULK_BUCKETS,
    );
    this.refreshes = this.histogram(
      "ratestore_refresh_duration_seconds",
      "Latency of each refresh sent to the cluster, by cause: before a read (read-your-writes; concurrent reads of the same partitions share one), after a push with refresh=true, after a delete.",
      ["cause"],
      REFRESH_BUCKETS,
    );
    this.bulkPoints = new Counter({
      name: "ratestore_bulk_points_total",
      help: "Points sent in _bulk requests, by the request's outcome.",
      labelNames: ["outcome"],
      registers: [this.registry],
    });
    this.summaries = new Counter({
      name: "ratestore_summary_plans_total",
      help: "Summaries by how they were answered: served=rollups (rollups for some whole days, raw points for the rest) or served=raw, with the reason no rollup was used (metadata_filters, time_by_period, no_clean_day).",
      labelNames: ["served", "reason"],
      registers: [this.registry],
    });
    this.summaryDays = new Counter({
      name: "ratestore_summary_days_total",
      help: "Days of summaries' windows by where they were read: served=rollup (whole clean days and months) or served=raw (raw points: dirty, partial or never rolled-up days).",
      labelNames: ["served"],
      registers: [this.registry],
    });
    this.builds = this.histogram(
      "ratestore_rollup_build_duration_seconds",
      "Rollup builds of a day (from its raw points) or a month (from its days' rollups), by outcome: built, raced (a write moved the state meanwhile; rebuilt later), raw (the day's points cannot be rolled up), gone (its partition was deleted), and the skips writing, not_quiet, clean, current, not_clean, adopted.",
      ["level", "outcome"],
      BUILD_BUCKETS,
    );
    this.dirtyDays = new Gauge({
      name: "ratestore_rollup_dirty_days",
      help: "Days changed since their rollup was built, read from raw points until the builder catches up (0 once it has).",
      registers: [this.registry],
    });
    this.buildLag = new Gauge({
      name: "ratestore_rollup_build_lag_seconds",
      help: "How long the oldest dirty day has waited for its rebuild (0 when none is dirty).",
      registers: [this.registry],
    });
    for (const [name, help, pick] of [
      ["ratestore_points_stored_total", "Points newly stored.", (s: Readonly<WriteStats>) => s.stored],
      ["ratestore_points_duplicate_total", "Points pushed again and not stored twice.", (s: Readonly<WriteStats>) => s.duplicates],
      ["ratestore_points_failed_total", "Points that could not be stored (reported to the client).", (s: Readonly<WriteStats>) => s.failed],
      ["ratestore_bulk_retries_total", "Bulk requests or items retried after 429/5xx.", (s: Readonly<WriteStats>) => s.retries],
      ["ratestore_bulk_requests_total", "Bulk requests sent.", (s: Readonly<WriteStats>) => s.bulkRequests],
    ] as const) {
      this.registry.registerMetric(this.statsCounter(name, help, pick));
    }
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /** A counter whose value is read from the writer's running totals at scrape time. */
  private statsCounter(name: string, help: string, pick: (s: Readonly<WriteStats>) => number): Counter {
    const stats = () => this.stats();
    return new Counter({
      name,
      help,
      registers: [],
      collect() {
        const s = stats();
        this.reset();
        if (s) this.inc(pick(s));
      },
    });
  }

  /** Where the writer's totals come from (the backend, once it exists). */
  readStatsFrom(stats: () => Readonly<WriteStats>): void {
    this.stats = stats;
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    this.http.observe({ route, method, status: String(status) }, seconds);
  }

  bulkRequest(seconds: number, points: number, outcome: BulkOutcome): void {
    this.bulk.observe({ outcome }, seconds);
    this.bulkPoints.inc({ outcome }, points);
  }

  refresh(seconds: number, cause: RefreshCause): void {
    this.refreshes.observe({ cause }, seconds);
  }

  totalPlan(plan: TotalServed): void {
    this.summaries.inc({ served: plan.served, reason: plan.reason ?? "" });
    if (plan.rollupDays) this.summaryDays.inc({ served: "rollup" }, plan.rollupDays);
    if (plan.rawDays) this.summaryDays.inc({ served: "raw" }, plan.rawDays);
  }

  rollupBuild(level: "day" | "month", outcome: string, seconds: number): void {
    this.builds.observe({ level, outcome }, seconds);
  }

  rollupBacklog(dirtyDays: number, lagSeconds: number): void {
    this.dirtyDays.set(dirtyDays);
    this.buildLag.set(lagSeconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
