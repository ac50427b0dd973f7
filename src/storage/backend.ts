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
export interface PointScope {
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

export interface RetrieveOptions extends PointScope {
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
export interface GroupCursor {
  readonly key: Readonly<Record<string, string | number | null>>;
  readonly position: number;
}

export interface TotalOptions extends PointScope {
  /** Groupby keys, `type`, or a time group. Empty: one row for everything. */
  readonly groupby?: readonly string[];
  readonly offset?: number;
  readonly limit?: number;
  readonly paginate?: boolean;
  readonly after?: GroupCursor;
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
  readonly next?: GroupCursor;
}

export interface PointFailure {
  /** Index of the dataframe in the pushed list. */
  readonly dataframe: number;
  readonly type: string;
  /** Index of the point in `usage[type]` of that dataframe. */
  readonly index: number;
  readonly status: number;
  readonly reason: string;
}

export interface PushResult {
  readonly points: number;
  /** Newly stored. */
  readonly stored: number;
  /** Already stored by an earlier push of the same points (a retry). */
  readonly duplicates: number;
  readonly failed: readonly PointFailure[];
}

export interface PushOptions {
  /** Make the points visible to search before returning (tests, small admin pushes). */
  readonly refresh?: boolean;
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
  readonly status?: string;
  readonly templatesInstalled: boolean;
  readonly retention: string;
  readonly problems: readonly string[];
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
  /** The lifecycle policy managing it (ISM), or the mechanism that will delete it. */
  readonly policy: string;
  readonly deletesAt?: number;
}

export interface SweepSummary {
  readonly leader: boolean;
  readonly deleted: readonly string[];
  readonly kept: number;
}

export interface StorageBackend {
  readonly name: string;
  /** Installs templates and policies; idempotent and safe to run from several instances at once. */
  init(): Promise<void>;
  push(dataframes: readonly DataFrame[], options?: PushOptions): Promise<PushResult>;
  retrieve(options?: RetrieveOptions): Promise<RetrieveResult>;
  /** Every matching point in order, fetched page by page: memory does not grow with the result. */
  iteratePoints(options?: Omit<RetrieveOptions, "offset" | "limit" | "paginate">): AsyncIterable<StoredPoint>;
  total(options?: TotalOptions): Promise<TotalResult>;
  delete(options?: PointScope): Promise<DeleteResult>;
  getRetention(): Retention;
  health(): Promise<BackendHealth>;
  writeStats(): Readonly<WriteStats>;
  /** Starts what a long-running service does in the background (the retention sweeper). */
  startBackgroundWork(): void;
  /** Every partition with its period, size, policy and deletion date. */
  describePartitions(): Promise<PartitionInfo[]>;
  /** One retention sweep now (clusters without a lifecycle plugin). */
  sweepRetention(now?: number): Promise<SweepSummary>;
  close(): Promise<void>;
}
