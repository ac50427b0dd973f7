/**
 * The storage contract: CloudKitty's v2 storage operations, their options and results, and the
 * operator's work beside them.
 */
import { RatestoreError } from "../errors.js";
import type { DataFrame, Scalar } from "./dataframe.js";
import type { Nanos } from "./decimal.js";

/**
 * CloudKitty's v2 storage contract (`cloudkitty.storage.v2.BaseStorage`), in TypeScript. Times are
 * epoch milliseconds (UTC); amounts are exact nano-unit bigints (see decimal.ts).
 */

/** A filter value: one value, or a list of which any may match. */
export type FilterValue = Scalar | readonly Scalar[];
export type Filters = Readonly<Record<string, FilterValue>>;

/** What every read and delete narrows on. A point matches when `start >= begin` and `end <= end`. */
export interface PointSelection {
  /** Defaults to the start of the current month, as in CloudKitty. */
  readonly begin?: number;
  /** Defaults to the start of next month, as in CloudKitty. */
  readonly end?: number;
  /** Match a key of `groupby` or of `metadata`. */
  readonly filters?: Filters;
  /** Match a key of `groupby` only. */
  readonly groupFilters?: Filters;
  readonly metricTypes?: string | readonly string[];
}

/** Where a page of points ended; pass it back as `after` to continue with no offset cost. */
export type PointCursor = readonly (string | number)[];

export interface RetrieveOptions extends PointSelection {
  readonly offset?: number;
  readonly limit?: number;
  /** false: every matching point (use `iteratePoints` for large results: it streams). */
  readonly paginate?: boolean;
  /** Continue after this position instead of skipping `offset` points. */
  readonly after?: PointCursor;
}

export interface StoredPoint {
  readonly begin: number;
  readonly end: number;
  readonly point: DataFrame["points"][number];
}

/** The largest page the API serves: pages beyond the cluster's result window are walked and streamed. */
export const MAX_LIMIT = 1_000_000;

/** A streamed page of points: `total` is known at once; `next()` once `points` is exhausted. */
export interface PointPage {
  /** The exact number of matching points. */
  readonly total: number;
  readonly points: AsyncIterable<StoredPoint>;
  /** Where the page ended: absent on the last page. Valid once `points` is exhausted. */
  next(): PointCursor | undefined;
}

/** A streamed page of groups: iterate `rows`, then `end()` gives the exact group count and the next cursor. */
export interface TotalPage {
  readonly rows: AsyncIterable<TotalRow>;
  end(): Promise<{ total: number; next?: TotalCursor }>;
}

export interface RetrieveResult {
  /** Exact number of matching points. */
  readonly total: number;
  /** Grouped by period, ordered by period. */
  readonly dataframes: DataFrame[];
  /** Position after the last returned point, when more may follow. */
  readonly next?: PointCursor;
}

/** `time` groups by each period; `time-d|w|m|y` by calendar day, ISO week, month, year. */
export const TIME_GROUPS = ["time", "time-d", "time-w", "time-m", "time-y"] as const;
export type TimeGroup = (typeof TIME_GROUPS)[number];

/** Where a page of groups ended: the composite key of the last returned row and how many rows came before it. */
export interface TotalCursor {
  readonly key: Readonly<Record<string, string | number | null>>;
  readonly position: number;
  /** The exact group count of the first page, carried so that later pages do not count again. */
  readonly total?: number;
}

export interface TotalOptions extends PointSelection {
  /** Groupby keys, `type`, or a time group. Empty: one row for everything. */
  readonly groupby?: readonly string[];
  readonly offset?: number;
  readonly limit?: number;
  readonly paginate?: boolean;
  readonly after?: TotalCursor;
}

export interface TotalRow {
  readonly begin: number;
  readonly end: number;
  readonly qty: Nanos;
  readonly rate: Nanos;
  /** The value of each requested groupby key (`type` included); null where a point lacks the key. */
  readonly groups: Readonly<Record<string, Scalar>>;
}

export interface TotalResult {
  /** Exact number of groups. */
  readonly total: number;
  readonly results: TotalRow[];
  readonly next?: TotalCursor;
}

export interface PointFailure {
  /** Index of the dataframe in the pushed list. */
  readonly dataframe: number;
  readonly type: string;
  /** Index of the point in `usage[type]` of that dataframe. */
  readonly index: number;
  /** The cluster's status for the point, or 422 for a point refused before it was sent (retention). */
  readonly status: number;
  readonly reason: string;
}

export interface PushResult {
  readonly points: number;
  /** Newly stored. */
  readonly stored: number;
  /** Already stored (by an earlier push of the same points, or repeated inside this one). */
  readonly duplicates: number;
  /** Known not stored, each with its reason. */
  readonly failed: readonly PointFailure[];
  /** Sent in a request the cluster never answered: stored or not. Only a PushInterruptedError has any. */
  readonly unknown: readonly PointFailure[];
}

/**
 * Reads through ratestore see every point whose push answered before they started, whatever this says:
 * each read refreshes the partitions it reads first (read-your-writes, on any instance). This is about
 * readers of the indices that do not go through ratestore (Dashboards, Kibana), in OpenSearch's words:
 * - `false` (the default): they see the points within `refresh_interval`;
 * - `true`: the touched partitions are refreshed before push returns;
 * - `"wait_for"`: each bulk request waits for the partitions' next scheduled refresh (up to
 *   `refresh_interval` of latency per push).
 */
export type PushVisibility = boolean | "wait_for";

/**
 * A push stopped part-way because the cluster failed for good. All its requests have ended on this side;
 * `result` says exactly which points are stored, not stored (the cluster refused them, or they were never
 * sent) and unknown (sent in a request that got no answer, which the cluster may still carry out).
 */
export class PushInterruptedError extends RatestoreError {
  readonly code = "push_interrupted";
  constructor(
    message: string,
    readonly result: PushResult,
    /** Whether the cause is transient (the cluster unreachable or overloaded): then retrying later may succeed. */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PushOptions {
  readonly refresh?: PushVisibility;
}

export interface DeleteResult {
  readonly deleted: number;
}

export interface Retention {
  readonly hours: number;
}

export interface BackendHealth {
  readonly reachable: boolean;
  readonly clusterName?: string;
  readonly version?: string;
  readonly distribution?: string;
  /** What the storage can do, as detected at init (and overridden by configuration), in the backend's own terms. */
  readonly profile?: Readonly<Record<string, string | readonly string[]>>;
  readonly status?: string;
  readonly templatesInstalled: boolean;
  /** Indices behind the read alias that the backend did not write (it serves nothing while there are any). */
  readonly foreignIndices?: readonly string[];
  readonly retention: string;
  /** Why the cluster refuses writes now (a read-only block), or undefined when it accepts them. */
  readonly writesRefused?: string;
  readonly problems: readonly string[];
}

/** How a `_bulk` request ended: every item answered for good, some items sent again, or the request failed. */
export type BulkOutcome = "ok" | "items_retried" | "failed";

/** Why partitions were refreshed: before a read (read-your-writes), or after a push or a delete, for readers of the indices outside ratestore. */
export type RefreshCause = "read" | "push" | "delete";

/** How a summary was answered: from rollups for some whole days of its window, or from raw points alone (and why). */
export interface TotalServed {
  readonly served: "rollups" | "raw";
  /** Why no rollup was used: metadata filters, grouping by period, or no whole clean day in the window. */
  readonly reason?: string;
  /** Whole days of the window answered from rollups, and the rest (a partial day counts as one). */
  readonly rollupDays?: number;
  readonly rawDays: number;
}

/** What the storage reports as it works, for metrics; the service's metrics registry implements it. */
export interface StorageObserver {
  bulkRequest(seconds: number, points: number, outcome: BulkOutcome): void;
  /**
   * A refresh sent to the cluster. Concurrent requests for the same partitions share refreshes (whatever
   * their cause); each refresh is counted once, with the cause of the first request for those
   * partitions since none was running or queued.
   */
  refresh(seconds: number, cause: RefreshCause): void;
  /** A summary's plan (rollups or raw points). */
  totalPlan(plan: TotalServed): void;
  /** A rollup build of a day or a month, by outcome (built, raced, raw...). */
  rollupBuild(level: "day" | "month", outcome: string, seconds: number): void;
  /** Days changed since their rollup was built, and how long the oldest has waited. */
  rollupBacklog(dirtyDays: number, lagSeconds: number): void;
}

export const NO_OBSERVER: StorageObserver = {
  bulkRequest: () => undefined,
  refresh: () => undefined,
  totalPlan: () => undefined,
  rollupBuild: () => undefined,
  rollupBacklog: () => undefined,
};

/** Where the rollups stand, for operators (`ratestore rollups status`). */
export interface RollupStatus {
  readonly enabled: boolean;
  /** Days by state: clean (served from rollups), dirty (changed since, read from raw points until rebuilt), raw (never rolled up). */
  readonly days: { readonly clean: number; readonly dirty: number; readonly raw: number };
  /** How long the oldest dirty day has waited since it was changed. */
  readonly lagSeconds: number;
  /** The dirty and raw days (at most 100 of each), with why a raw day is not rolled up. */
  readonly pending: readonly { readonly day: string; readonly status: "dirty" | "raw"; readonly reason?: string }[];
}

/** What a rebuild did. */
export interface RollupRebuild {
  readonly leader: boolean;
  readonly days: Readonly<Record<string, number>>;
  readonly months: Readonly<Record<string, number>>;
}

/** Running totals of what pushes did since start, for metrics. */
export interface WriteStats {
  stored: number;
  duplicates: number;
  failed: number;
  retries: number;
  bulkRequests: number;
}

/** One time partition, for operators. Times are epoch ms. */
export interface PartitionInfo {
  readonly index: string;
  readonly periodStart?: number;
  readonly periodEnd?: number;
  readonly docs: number;
  readonly bytes: number;
  /** The lifecycle policy managing it (ISM, ILM), or the mechanism that will delete it ("sweeper"), or "none". */
  readonly policy: string;
  /** The lifecycle engine's own state for it (ISM state, ILM phase). */
  readonly state?: string;
  /** When retention takes it out of reads, as its mechanism will do it; deleted a grace period later. */
  readonly deletesAt?: number;
}

export interface SweepSummary {
  /** false: another instance holds the sweeper's lease; this one did nothing. */
  readonly leader: boolean;
  readonly deleted: readonly string[];
  /** Expired partitions taken out of the read alias by this sweep, deleted by a later one after the grace period. */
  readonly detached?: readonly string[];
  readonly kept: number;
}

/**
 * What every storage backend implements: CloudKitty's operations (init, push, retrieve, total, delete,
 * get_retention) in their streaming forms. Whole results are collected once, for every backend, in
 * reads.ts (`retrieve`, `total`).
 */
export interface StorageBackend {
  readonly name: string;
  /** Reaches the storage and learns what it can do, changing nothing: enough for reading (exports). */
  connect(): Promise<void>;
  /** connect(), then installs templates and policies; idempotent and safe to run from several instances at once. */
  init(): Promise<void>;
  push(dataframes: readonly DataFrame[], options?: PushOptions): Promise<PushResult>;
  /**
   * `retrieve`, streamed: a page of any size (`limit` up to MAX_LIMIT), the points from `offset` (or
   * after `after`) in order, then the exact total and the cursor of the next page. Memory does not grow
   * with `limit`.
   */
  streamPage(options?: RetrieveOptions): Promise<PointPage>;
  /**
   * `retrieve` of every matching point (`paginate=False`), in point order, page by page, as one
   * consistent view where the storage has one (points written during the walk are not seen half-way):
   * memory does not grow with the result.
   */
  iteratePoints(options?: Omit<RetrieveOptions, "offset" | "limit" | "paginate">): AsyncIterable<StoredPoint>;
  /**
   * Every matching point once, as fast as the storage can read them (the export), a page at a time: in the order the storage keeps them where it can, points of one period
   * adjacent within each page, so one period may come in several pages; elsewhere in point order.
   */
  scanPoints(options?: Omit<RetrieveOptions, "offset" | "limit" | "paginate" | "after">): AsyncIterable<readonly StoredPoint[]>;
  /** `total`, streamed row by row: memory does not grow with the number of groups. */
  streamTotal(options?: TotalOptions): TotalPage;
  /** Deletes exactly the matching points (every filter honoured), including those pushed just before; visible to reads when it returns. */
  delete(options?: PointSelection): Promise<DeleteResult>;
  getRetention(): Retention;
  health(): Promise<BackendHealth>;
  close(): Promise<void>;
}

/** The operator's work on a backend, beside the storage contract: partitions, retention sweeps, background jobs, rollups. */
export interface StorageOperations {
  /** Starts what a long-running service does in the background (the retention sweeper, the rollup builder). */
  startBackgroundWork(): void;
  /** Makes every point stored so far visible to readers outside ratestore now (reads through it always see them). */
  refresh(): Promise<void>;
  /** Running totals of what pushes did since start, for metrics. */
  writeStats(): Readonly<WriteStats>;
  /** Every partition with its period, size, policy and deletion date. */
  describePartitions(): Promise<PartitionInfo[]>;
  /** One retention sweep now (clusters without a lifecycle plugin). */
  sweepRetention(now?: number): Promise<SweepSummary>;
  /** Where the rollups stand. */
  rollupStatus(): Promise<RollupStatus>;
  /** Marks the days of [begin, end) that hold points changed, and rebuilds them and their months now. */
  rebuildRollups(window: { readonly begin: number; readonly end: number }): Promise<RollupRebuild>;
}

/** A backend as the service and the CLI run it: the storage contract and the operator's work, on one object. */
export type OperatedBackend = StorageBackend & StorageOperations;
