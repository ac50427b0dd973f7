import { ValidationError } from "../../errors.js";
import { TIME_GROUPS, type TimeGroup, type TotalOptions, type TotalResult, type TotalRow } from "../backend.js";
import { LABEL_KEY_RE, type Scalar } from "../dataframe.js";
import { joinSums } from "../decimal.js";
import { scopeQuery, withDefaultWindow, type Clause } from "./query.js";
import type { PointSearch } from "./search.js";
import { DEFAULT_LIMIT } from "./reader.js";

/** Rows fetched per composite page while rows are being returned, and while only counting the rest. */
const ROWS_PAGE = 1000;
const COUNT_PAGE = 10_000;

type CompositeKey = Record<string, string | number | null>;

interface Bucket {
  key: CompositeKey;
  doc_count: number;
  qu?: { value: number };
  qn?: { value: number };
  pu?: { value: number };
  pn?: { value: number };
}

interface CompositeAgg {
  buckets: Bucket[];
  after_key?: CompositeKey;
}

const SUMS = {
  qu: { sum: { field: "qty_units" } },
  qn: { sum: { field: "qty_nanos" } },
  pu: { sum: { field: "price_units" } },
  pn: { sum: { field: "price_nanos" } },
} as const;

const CALENDAR: Record<Exclude<TimeGroup, "time">, { interval: string; next: (ms: number) => number }> = {
  "time-d": { interval: "1d", next: (ms) => ms + 86_400_000 },
  "time-w": { interval: "1w", next: (ms) => ms + 7 * 86_400_000 },
  "time-m": {
    interval: "1M",
    next: (ms) => {
      const d = new Date(ms);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    },
  },
  "time-y": { interval: "1y", next: (ms) => Date.UTC(new Date(ms).getUTCFullYear() + 1, 0, 1) },
};

/** How the requested groupby maps to composite sources, and back to rows. */
export interface GroupPlan {
  readonly sources: Record<string, unknown>[];
  /** Output key -> composite source name, for `type` and groupby keys. */
  readonly labels: readonly { name: string; source: string }[];
  readonly time?: TimeGroup;
}

function isTimeGroup(g: string): g is TimeGroup {
  return (TIME_GROUPS as readonly string[]).includes(g);
}

export function planGroups(groupby: readonly string[]): GroupPlan {
  const sources: Record<string, unknown>[] = [];
  const labels: { name: string; source: string }[] = [];
  let time: TimeGroup | undefined;
  for (const g of [...new Set(groupby)]) {
    if (g.startsWith("time")) {
      if (!isTimeGroup(g)) throw ValidationError.forField("groupby", `unknown time option ${JSON.stringify(g)}; use one of ${TIME_GROUPS.join(", ")}`);
      if (time) throw ValidationError.forField("groupby", `only one time grouping at a time (got ${time} and ${g})`);
      time = g;
      if (g === "time") {
        sources.push({ t_begin: { terms: { field: "start" } } }, { t_end: { terms: { field: "end" } } });
      } else {
        sources.push({ t_begin: { date_histogram: { field: "start", calendar_interval: CALENDAR[g].interval, time_zone: "UTC" } } });
      }
      continue;
    }
    const source = `g${labels.length}`;
    if (g === "type") {
      sources.push({ [source]: { terms: { field: "type" } } });
    } else {
      if (!LABEL_KEY_RE.test(g)) throw ValidationError.forField("groupby", `${JSON.stringify(g)} is not a valid groupby key`);
      sources.push({ [source]: { terms: { field: `groupby.${g}`, missing_bucket: true } } });
    }
    labels.push({ name: g, source });
  }
  return { sources, labels, ...(time ? { time } : {}) };
}

function rowOf(bucket: Bucket, plan: GroupPlan, window: { begin: number; end: number }): TotalRow {
  const groups: Record<string, Scalar> = {};
  for (const l of plan.labels) groups[l.name] = bucket.key[l.source] ?? null;
  let begin = window.begin;
  let end = window.end;
  if (plan.time === "time") {
    begin = Number(bucket.key.t_begin);
    end = Number(bucket.key.t_end);
  } else if (plan.time) {
    begin = Number(bucket.key.t_begin);
    end = CALENDAR[plan.time].next(begin);
  }
  return {
    begin,
    end,
    qty: joinSums(bucket.qu?.value ?? 0, bucket.qn?.value ?? 0),
    rate: joinSums(bucket.pu?.value ?? 0, bucket.pn?.value ?? 0),
    groups,
  };
}

/**
 * CloudKitty's `total`: sums grouped by any groupby key, `type` and time, over a composite aggregation
 * paged by `after_key`. The group count is exact: the pages past the requested rows are walked too,
 * without their sums, only to count.
 */
export class TotalAggregator {
  constructor(private readonly search: PointSearch) {}

  async total(options: TotalOptions = {}): Promise<TotalResult> {
    const window = withDefaultWindow(options);
    const query = scopeQuery(window);
    const plan = planGroups(options.groupby ?? []);
    const offset = options.offset ?? 0;
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(offset) || offset < 0) throw ValidationError.forField("offset", "must be a non-negative integer");
    if (!Number.isSafeInteger(limit) || limit < 1) throw ValidationError.forField("limit", "must be a positive integer");
    if (plan.sources.length === 0) return this.ungrouped(query, window);

    const wanted = options.paginate === false ? Number.POSITIVE_INFINITY : limit;
    const results: TotalRow[] = [];
    let after: CompositeKey | undefined = options.after?.key;
    let position = options.after?.position ?? 0;
    let toSkip = options.after || options.paginate === false ? 0 : offset;
    // Skip to the offset on keys alone.
    while (toSkip > 0) {
      const size = Math.min(COUNT_PAGE, toSkip);
      const page = await this.page(query, plan, after, size, false);
      position += page.buckets.length;
      toSkip -= page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < size) return { total: position, results };
    }
    // The requested rows, with their sums.
    let lastKey: CompositeKey | undefined;
    while (results.length < wanted) {
      const size = Math.min(ROWS_PAGE, wanted - results.length);
      const page = await this.page(query, plan, after, size, true);
      for (const b of page.buckets) results.push(rowOf(b, plan, window));
      lastKey = page.buckets[page.buckets.length - 1]?.key ?? lastKey;
      position += page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < size) return { total: position, results };
    }
    const returnedUpTo = position;
    // Count what remains, on keys alone.
    for (;;) {
      const page = await this.page(query, plan, after, COUNT_PAGE, false);
      position += page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < COUNT_PAGE) break;
    }
    const more = position > returnedUpTo;
    return { total: position, results, ...(more && lastKey ? { next: { key: lastKey, position: returnedUpTo } } : {}) };
  }

  private async page(query: Clause, plan: GroupPlan, after: CompositeKey | undefined, size: number, withSums: boolean): Promise<CompositeAgg> {
    const res = await this.search.search({
      query,
      size: 0,
      track_total_hits: false,
      aggs: {
        groups: {
          composite: { size, sources: plan.sources, ...(after ? { after } : {}) },
          ...(withSums ? { aggs: SUMS } : {}),
        },
      },
    });
    return (res.aggregations?.groups as CompositeAgg | undefined) ?? { buckets: [] };
  }

  private async ungrouped(query: Clause, window: { begin: number; end: number }): Promise<TotalResult> {
    const res = await this.search.search({ query, size: 0, track_total_hits: true, aggs: SUMS });
    const count = res.hits.total?.value ?? 0;
    if (count === 0) return { total: 0, results: [] };
    const aggs = (res.aggregations ?? {}) as Omit<Bucket, "key" | "doc_count">;
    return { total: 1, results: [rowOf({ key: {}, doc_count: count, ...aggs }, { sources: [], labels: [] }, window)] };
  }
}
