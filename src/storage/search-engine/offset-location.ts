/**
 * Where an offset lies, found from counts rather than by sorting every point before it: which group of
 * POINT_SORT's prefix holds it (by start hour, then by start, end and type) and its position inside,
 * then, deep inside a large group, a range of point ids that starts just before it.
 */
import type { Clause } from "./query.js";
import type { GroupOrder } from "./point-order.js";
import type { PointSearch } from "./search.js";

/** The searches locating needs. */
type Counting = Pick<PointSearch, "search" | "count">;

/**
 * A composite bucket's key at a locate level: a start hour (`s`), or a start, end and type (`s`, `e`,
 * `t`). One letter each: the names are repeated in every bucket of pages of up to 10,000.
 */
export interface LocateKey {
  readonly s?: number;
  readonly e?: number;
  readonly t?: string;
}

/**
 * A level of POINT_SORT's prefix that the locate step counts points by: its composite sources, in
 * POINT_SORT's order, and the filters of one of its groups. Each group is a contiguous run of the
 * point order, so counts add up to positions.
 */
export interface LocateLevel {
  readonly sources: readonly Record<string, unknown>[];
  group(key: LocateKey): Clause[];
  /** The starts of a group are below this (epoch ms): where a page that runs past the group may end. */
  startsBefore(key: LocateKey): number;
}

const HOUR_MS = 3_600_000;

/**
 * Points counted by the hour their period starts in. OpenSearch (2.12 on) answers a date_histogram
 * from the points index of `start` instead of reading a doc value per point, about ten times faster
 * than a terms source over `start` (BENCHMARKS.md, *The figures behind the code*: hourCounts); a finer
 * interval than the hour was as fast for a few hours of data but not at a second, and the shortcut
 * needs few buckets per shard. A group holds every start of its hour: contiguous in point order whatever the period.
 */
export const BY_START_HOUR: LocateLevel = {
  sources: [{ s: { date_histogram: { field: "start", fixed_interval: "1h" } } }],
  group: (key) => [{ range: { start: { gte: key.s, lt: key.s! + HOUR_MS, format: "epoch_millis" } } }],
  startsBefore: (key) => key.s! + HOUR_MS,
};

/** Inside one start hour: points counted by start, end and type, the rest of POINT_SORT's prefix before point_id. */
export const BY_PERIOD_TYPE: LocateLevel = {
  sources: [{ s: { terms: { field: "start" } } }, { e: { terms: { field: "end" } } }, { t: { terms: { field: "type" } } }],
  group: (key) => [
    { range: { start: { gte: key.s, lte: key.s, format: "epoch_millis" } } },
    { range: { end: { gte: key.e, lte: key.e, format: "epoch_millis" } } },
    { term: { type: key.t } },
  ],
  startsBefore: (key) => key.s! + 1,
};

const LOCATE_PAGE = 10_000;

/** base64url in byte order, the order in which keyword sorting compares point ids. */
const ID_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/** The id at fraction f of the id space (6 digits: finer than any group can need). */
export function idAt(f: number): string {
  let x = Math.min(Math.max(f, 0), 1 - Number.EPSILON);
  let out = "";
  for (let i = 0; i < 6; i++) {
    x *= 64;
    const d = Math.floor(x);
    out += ID_ALPHABET[d];
    x -= d;
  }
  return out;
}

/**
 * Where to look, as fractions of the id space, for the `position`-th point of a group of `groupSize`
 * uniform ids: the count below the id at fraction f is binomial, with a standard deviation of at most
 * sqrt(groupSize)/2. `lower` aims 8 such deviations below the position (at most half the `slack`), so
 * the count lands within the slack and the `from` left to sort stays a few hundred; `upper` aims as far
 * beyond the `span` points from the position, so the range holds them (none past the last id). The node
 * sorts only the points of the range: 300 instead of 5,000 costs half.
 */
export function idGuess(position: number, groupSize: number, slack: number, span: number): { lower: number; upper?: number } {
  const deviations8 = 4 * Math.sqrt(groupSize);
  const lower = Math.max(0, position - Math.min(slack / 2, deviations8)) / groupSize;
  const upper = (position + span + deviations8) / groupSize;
  return { lower, ...(upper < 1 ? { upper } : {}) };
}

/**
 * Inside one group of BY_PERIOD_TYPE the start, end and type are fixed, so the point id alone orders
 * its points, and the node compares one value per point instead of four (BENCHMARKS.md, *The figures
 * behind the code*: periodTypeOrder).
 */
export function periodTypeOrder(key: LocateKey): GroupOrder {
  return { asc: [{ point_id: "asc" }], desc: [{ point_id: "desc" }], cursor: (sort) => [key.s!, key.e!, key.t!, ...sort] };
}

/** Where an offset lies: its sort-prefix group and position inside it (see PointSearch.locate). */
export interface Located {
  readonly total: number;
  /** The filters of the group that holds the offset; absent when there are fewer points. */
  readonly group?: Clause[];
  /** That group's composite key. */
  readonly key?: LocateKey;
  readonly within: number;
  readonly groupSize: number;
  /** The starts of the `span` points from the offset are below this (epoch ms), when known. */
  readonly spanEnd?: number;
}

/**
 * Finds which group of a locate level holds the `offset`-th point of a query, and the point's
 * position inside it, from the groups' document counts (BY_START_HOUR, then BY_PERIOD_TYPE for a
 * query already inside one hour). With `span`, also where the `span` points from the offset end.
 */
export async function locate(search: Counting, query: Clause, offset: number, level: LocateLevel, span = 0): Promise<Located> {
  const sources = level.sources;
  let before = 0;
  let after: Record<string, unknown> | undefined;
  let total: number | undefined;
  for (;;) {
    const res = await search.search({
      query,
      size: 0,
      track_total_hits: total === undefined,
      aggs: { prefix: { composite: { size: LOCATE_PAGE, sources, ...(after ? { after } : {}) } } },
    });
    total ??= res.hits.total?.value ?? 0;
    const agg = res.aggregations?.prefix as
      { buckets: { key: LocateKey; doc_count: number }[]; after_key?: Record<string, unknown> } | undefined;
    const buckets = agg?.buckets ?? [];
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i]!;
      if (before + b.doc_count > offset) {
        // The last group that the `span` points from the offset reach, when this page of groups shows it.
        let reach = before + b.doc_count;
        let last = b.key;
        for (let j = i + 1; j < buckets.length && reach < offset + span; j++) {
          reach += buckets[j]!.doc_count;
          last = buckets[j]!.key;
        }
        const spanEnd = reach >= offset + span ? level.startsBefore(last) : undefined;
        return {
          total,
          group: level.group(b.key),
          key: b.key,
          within: offset - before,
          groupSize: b.doc_count,
          ...(spanEnd !== undefined ? { spanEnd } : {}),
        };
      }
      before += b.doc_count;
    }
    if (!agg?.after_key || agg.buckets.length < LOCATE_PAGE) return { total, within: 0, groupSize: 0 };
    after = agg.after_key;
  }
}

/**
 * Inside one group, finds a point_id range that starts at most `slack` points before `position` and
 * that holds the `span` points from it, and how many of the group's points lie below it. Point ids
 * are hashes, uniform over the base64url alphabet (see idGuess), so one `_count` usually suffices. It
 * is not cheap: the node enumerates every id of the partition below the bound to match them by doc
 * value, more of them the further into the id space (BENCHMARKS.md, *The figures behind the
 * code*: idBound), which is why the reader
 * uses it only where `from` cannot reach (see PointReader.fromNearerEnd). Bisects when a guess
 * misses (ids written by another tool), then with no upper bound; undefined when that does not converge.
 */
export async function idBound(
  search: Counting,
  groupQuery: Clause,
  position: number,
  groupSize: number,
  slack: number,
  span: number,
): Promise<{ range: { gte: string; lt?: string }; before: number } | undefined> {
  const guess = idGuess(position, groupSize, slack, span);
  let lo = 0;
  let hi = 1;
  let f = guess.lower;
  for (let i = 0; i < 30; i++) {
    const bound = idAt(f);
    const before = await search.count({ bool: { filter: [groupQuery, { range: { point_id: { lt: bound } } }] } });
    if (before <= position && position - before < slack) {
      // The upper bound only holds for the first guess: a bisection means the ids are not spread like ours.
      return { range: { gte: bound, ...(i === 0 && guess.upper !== undefined ? { lt: idAt(guess.upper) } : {}) }, before };
    }
    if (before > position) hi = f;
    else lo = f;
    f = (lo + hi) / 2;
  }
  return undefined;
}
