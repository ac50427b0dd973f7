/**
 * CloudKitty's `total` on the engines: composite aggregations paged by `after_key`, exact sums and
 * group counts.
 */
import { InexactTotalError, ValidationError } from "../../errors.js";
import { MAX_LIMIT, TIME_GROUPS, type TotalCursor, type TotalPage, type TimeGroup, type TotalOptions, type TotalRow } from "../backend.js";
import { LABEL_KEY_RE, type Scalar } from "../dataframe.js";
import { joinSums, type Nanos } from "../decimal.js";
import { LIMB_EXPONENTS, inexactSum, joinLimbs } from "../limbs.js";
import { limbFields } from "./documents.js";
import { selectionQuery, type Clause } from "./query.js";
import { withDefaultWindow } from "../time.js";
import type { PointSearch } from "./search.js";
import { DEFAULT_LIMIT } from "./reader.js";

/** Rows fetched per composite page while rows are being returned, and while only counting the rest. */
const ROWS_PAGE = 1000;
/**
 * Rows per composite page when many are wanted (paginate=false, large limits). Each page reads every
 * matching point again (the composite keeps the next keys after `after_key`), so the page is as large
 * as an answer of bounded size allows: 10,000 rows of four sums is about 2 MB.
 */
const WALK_ROWS_PAGE = 10_000;
const COUNT_PAGE = 10_000;

type CompositeKey = Record<string, string | number | null>;

/** Sum aggregations' answers by name: `{ "q0": { "value": 12 } }`. */
type Sums = Record<string, unknown>;

/** A composite bucket: its key, its count and its sums. */
type Bucket = { key: CompositeKey; doc_count: number } & Sums;

const sumOf = (sums: Sums, name: string): number => (sums[name] as { value?: number } | undefined)?.value ?? 0;

interface CompositeAgg {
  buckets: Bucket[];
  after_key?: CompositeKey;
}

/** The sums of one amount: of each of its limbs, and of the whole and nano parts of documents written before template version 5. */
interface AmountSums {
  readonly limbs: readonly string[];
  readonly legacy: readonly [units: string, nanos: string];
}

/**
 * The sums of one amount, named `<q|p><exponent>` for its limbs (`q12`: the qty limb of 10^12) and
 * `<q|p>u`, `<q|p>n` for its whole (units) and nano parts: each name is repeated in every bucket of the
 * response, which holds thousands of them for a summary by `id`.
 */
function amountSums(amount: "qty" | "price", short: string): { names: AmountSums; aggs: Record<string, { sum: { field: string } }> } {
  const aggs: Record<string, { sum: { field: string } }> = {};
  const limbs = limbFields(amount).map((field, k) => {
    const name = `${short}${LIMB_EXPONENTS[k]!}`;
    aggs[name] = { sum: { field } };
    return name;
  });
  // Partitions created from version 5 on do not map these fields: there the sums cost nothing.
  aggs[`${short}u`] = { sum: { field: `${amount}_units` } };
  aggs[`${short}n`] = { sum: { field: `${amount}_nanos` } };
  return { names: { limbs, legacy: [`${short}u`, `${short}n`] }, aggs };
}

const QTY = amountSums("qty", "q");
const RATE = amountSums("price", "p");
/** The sums every row of a total is made of, as sent to the cluster. */
export const SUM_AGGREGATIONS = { ...QTY.aggs, ...RATE.aggs };

/**
 * The sums a summary sends: those of the limbs that may not be zero in what it reads (every limb unless
 * `limbs` names fewer), and the whole and nano parts where a partition of its window holds them. A sum
 * left out reads as zero (sumOf).
 */
export function sumAggregations(which: { readonly limbs?: readonly string[]; readonly legacy: boolean }): Record<string, unknown> {
  const limbs = which.limbs && new Set(which.limbs);
  return Object.fromEntries(
    Object.entries(SUM_AGGREGATIONS).filter(([, agg]) => {
      const field = agg.sum.field;
      if (field.endsWith("_units") || field.endsWith("_nanos")) return which.legacy;
      return !limbs || limbs.has(field);
    }),
  );
}

/** What a summary searches: its query, and the sums it asks of each group (sumAggregations). */
export interface TotalQuery {
  readonly query: Clause;
  readonly sums: Record<string, unknown>;
}

/** An amount from its sums, or an InexactTotalError where a sum the cluster returned may have been rounded. */
function amountOf(sums: Sums, names: AmountSums, groups: Record<string, Scalar>): Nanos {
  const limbs = names.limbs.map((n) => sumOf(sums, n));
  const [units, nanos] = names.legacy.map((n) => sumOf(sums, n)) as [number, number];
  const why =
    inexactSum(limbs) ??
    (inexactSum([units, nanos]) &&
      `points written before template version 5 (whole and nano parts) sum to ${units} units and ${nanos} nano-units, past 2^53, so the cluster may have rounded them`);
  if (why)
    throw new InexactTotalError(
      `the total of the group ${JSON.stringify(groups)} cannot be given exactly: ${why}; narrow the window or group more finely`,
    );
  return joinLimbs(limbs) + joinSums(units, nanos);
}

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

/** The search of a summary's window, given the window and its time grouping. */
export type TotalSource = (selection: TotalOptions & { begin: number; end: number }, time: TimeGroup | undefined) => Promise<TotalQuery>;

/** Raw points alone, summed with the whole and nano parts too (a window whose partitions are not known). */
const rawPoints: TotalSource = async (selection) => ({ query: selectionQuery(selection), sums: SUM_AGGREGATIONS });

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
      if (!isTimeGroup(g))
        throw ValidationError.forField("groupby", `unknown time option ${JSON.stringify(g)}; use one of ${TIME_GROUPS.join(", ")}`);
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
    qty: amountOf(bucket, QTY.names, groups),
    rate: amountOf(bucket, RATE.names, groups),
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

  /**
   * The rows one composite page at a time: memory holds one page, whatever the limit. `source` gives the
   * search of the window (raw points by default; rollups and raw points, rollups/rollup-reads.ts); it is
   * asked for at once, so that what it reads runs beside the caller's refresh.
   */
  streamTotal(options: TotalOptions = {}, source: TotalSource = rawPoints): TotalPage {
    const window = withDefaultWindow(options);
    // Bad filters throw here, before the first row is asked for.
    selectionQuery(window);
    const plan = planGroups(options.groupby ?? []);
    const offset = options.offset ?? 0;
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(offset) || offset < 0) throw ValidationError.forField("offset", "must be a non-negative integer");
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw ValidationError.forField("limit", `must be an integer from 1 to ${MAX_LIMIT}`);
    let ended: { total: number; next?: TotalCursor } | undefined;
    const query = source(window, plan.time);
    // Awaited by the rows; a caller that never reads them must not leave a rejection unhandled.
    query.catch(() => undefined);
    const rows =
      plan.sources.length === 0
        ? this.ungrouped(query, window, (e) => (ended = e))
        : this.grouped(query, plan, window, options, (e) => (ended = e));
    return {
      rows,
      end: async () => {
        if (!ended) throw new Error("TotalPage.end() called before its rows were read");
        return ended;
      },
    };
  }

  private async *grouped(
    summary: Promise<TotalQuery>,
    plan: GroupPlan,
    window: { begin: number; end: number },
    options: TotalOptions,
    finish: (e: { total: number; next?: TotalCursor }) => void,
  ): AsyncGenerator<TotalRow> {
    const { query, sums } = await summary;
    const limit = options.limit ?? DEFAULT_LIMIT;
    const wanted = options.paginate === false ? Number.POSITIVE_INFINITY : limit;
    let after: CompositeKey | undefined = options.after?.key;
    let position = options.after?.position ?? 0;
    let toSkip = options.after || options.paginate === false ? 0 : (options.offset ?? 0);
    // Skip to the offset on keys alone.
    while (toSkip > 0) {
      const size = Math.min(COUNT_PAGE, toSkip);
      const page = await this.page(query, plan, after, size);
      position += page.buckets.length;
      toSkip -= page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < size) return finish({ total: position });
    }
    // The requested rows, with their sums.
    let returned = 0;
    let lastKey: CompositeKey | undefined;
    while (returned < wanted) {
      const size = Math.min(wanted > ROWS_PAGE ? WALK_ROWS_PAGE : ROWS_PAGE, wanted - returned);
      const page = await this.page(query, plan, after, size, sums);
      // A page's rows are all made before the first is given: a total refused as inexact fails the page
      // whole, so the first page's failure is answered with its own status rather than a cut answer.
      const rows = page.buckets.map((b) => rowOf(b, plan, window));
      for (const row of rows) yield row;
      returned += page.buckets.length;
      lastKey = page.buckets[page.buckets.length - 1]?.key ?? lastKey;
      position += page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < size) return finish({ total: position });
    }
    const returnedUpTo = position;
    const known = options.after?.total;
    if (known !== undefined && known > returnedUpTo) {
      // A later page of a cursor walk: the first page counted the groups, the cursor carries the count.
      return finish({ total: known, ...(lastKey ? { next: { key: lastKey, position: returnedUpTo, total: known } } : {}) });
    }
    // Count what remains, on keys alone.
    for (;;) {
      const page = await this.page(query, plan, after, COUNT_PAGE);
      position += page.buckets.length;
      after = page.after_key;
      if (!after || page.buckets.length < COUNT_PAGE) break;
    }
    const more = position > returnedUpTo;
    finish({ total: position, ...(more && lastKey ? { next: { key: lastKey, position: returnedUpTo, total: position } } : {}) });
  }

  private async page(
    query: Clause,
    plan: GroupPlan,
    after: CompositeKey | undefined,
    size: number,
    /** The sums of each row; none when only counting. */
    sums?: Record<string, unknown>,
  ): Promise<CompositeAgg> {
    const res = await this.search.search({
      query,
      size: 0,
      track_total_hits: false,
      aggs: {
        groups: {
          composite: { size, sources: plan.sources, ...(after ? { after } : {}) },
          ...(sums ? { aggs: sums } : {}),
        },
      },
    });
    return (res.aggregations?.groups as CompositeAgg | undefined) ?? { buckets: [] };
  }

  /**
   * One row for the whole window, as CloudKitty's Elasticsearch and OpenSearch backends answer: a window
   * with no point is a row of zeros, not an empty result.
   */
  private async *ungrouped(
    summary: Promise<TotalQuery>,
    window: { begin: number; end: number },
    finish: (e: { total: number }) => void,
  ): AsyncGenerator<TotalRow> {
    const { query, sums } = await summary;
    const res = await this.search.search({ query, size: 0, track_total_hits: false, aggs: sums });
    const aggs = (res.aggregations ?? {}) as Sums;
    yield rowOf({ key: {}, doc_count: 0, ...aggs }, { sources: [], labels: [] }, window);
    finish({ total: 1 });
  }
}
