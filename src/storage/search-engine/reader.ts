/** CloudKitty's `retrieve` on the engines: pages at any offset or cursor, and the export's scan. */
import { MAX_LIMIT, type PointCursor, type PointPage, type RetrieveOptions, type StoredPoint } from "../backend.js";
import { ValidationError } from "../../errors.js";
import { fromHit } from "./documents.js";
import { selectionQuery, type Clause } from "./query.js";
import { withDefaultWindow } from "../time.js";
import { BY_PERIOD_TYPE, BY_START_HOUR, idBound, locate, periodTypeOrder } from "./offset-location.js";
import { POINT_ORDER, POINT_SORT, type GroupOrder } from "./point-order.js";
import { MAX_WINDOW, type Hit, type PointSearch } from "./search.js";

export const DEFAULT_LIMIT = 1000;
/** Pages fetched while walking (export, paginate=false, pages larger than the result window). */
export const WALK_PAGE = 5000;
/** Pages of a scan (the export); two are in memory at once (see PointSearch.scan). */
const SCAN_PAGE = 5000;
/**
 * From this offset on, pages are located (deepHits) rather than read with `from` (from 0 where the hour
 * counts are cheap, see firstHits): the node sorts offset + limit points for `from`, while locating
 * costs one pass over doc values whatever the offset (BENCHMARKS.md, *The figures behind the code*:
 * LOCATE_FROM_OFFSET).
 */
const LOCATE_FROM_OFFSET = 500;
/**
 * From this depth inside a start hour (counted from its nearer end, see nearerEndDepth), the hour is
 * located by start, end and type too, even when `from` alone would stay within the window (BENCHMARKS.md,
 * *The figures behind the code*: INNER_LOCATE_FROM). An hour larger than the window is split from
 * LOCATE_FROM_OFFSET.
 */
const INNER_LOCATE_FROM = 4000;

/** Hits read in a group's order, with POINT_SORT's sort values: what cursors and search_after take. */
function inOrder(order: GroupOrder, hits: Hit[]): Hit[] {
  return order === POINT_ORDER ? hits : hits.map((h) => (h.sort ? { ...h, sort: order.cursor(h.sort) } : h));
}

/** How deep in its group a page lies, counted from the nearer end (see fromNearerEnd). */
function nearerEndDepth(within: number, groupSize: number, limit: number): number {
  return Math.max(0, Math.min(within, groupSize - within - limit));
}

function checkPaging(offset: number, limit: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw ValidationError.forField("offset", "must be a non-negative integer");
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw ValidationError.forField("limit", `must be an integer from 1 to ${MAX_LIMIT}`);
}

function toPoints(hits: readonly Hit[]): StoredPoint[] {
  return hits.map(fromHit);
}

/** CloudKitty's `retrieve`: points matching a selection, grouped into dataframes by period. */
export class PointReader {
  constructor(private readonly search: PointSearch) {}

  /**
   * A page of up to MAX_LIMIT points. The first window is read where the offset is (deep offsets at a
   * near-constant cost, see deepHits); the rest of the page is walked with search_after inside a
   * point-in-time and yielded as it arrives, so memory holds one walk page at most.
   */
  async streamPage(options: RetrieveOptions = {}): Promise<PointPage> {
    const query = selectionQuery(withDefaultWindow(options));
    const offset = options.offset ?? 0;
    const limit = options.limit ?? DEFAULT_LIMIT;
    checkPaging(offset, limit);
    const firstSize = Math.min(limit, MAX_WINDOW);
    const first = await this.firstHits(query, options.after ? 0 : offset, firstSize, options.after);
    let last: PointCursor | undefined;
    let returned = 0;
    const search = this.search;
    async function* points(): AsyncGenerator<StoredPoint> {
      for (const p of toPoints(first.hits)) yield p;
      returned = first.hits.length;
      last = first.hits[first.hits.length - 1]?.sort;
      if (first.hits.length < firstSize || !last || returned >= limit) return;
      // One walk from the first window's last point: it ends where the points do, and reads no page
      // past the limit (a second walk after it only ever read an empty page in a new point-in-time).
      const rest = limit - returned;
      for await (const hits of search.pages({ query, pageSize: Math.min(WALK_PAGE, rest), source: true, after: last, limit: rest })) {
        const take = hits.slice(0, limit - returned);
        for (const p of toPoints(take)) yield p;
        returned += take.length;
        last = take[take.length - 1]?.sort ?? last;
        if (returned >= limit) break;
      }
    }
    return {
      total: first.total,
      points: points(),
      next: () => (returned === limit && last ? last : undefined),
    };
  }

  /** The page's first window: at most MAX_WINDOW hits at `offset` (or after `after`), and the exact total. */
  private async firstHits(
    query: Clause,
    offset: number,
    size: number,
    after: PointCursor | undefined,
  ): Promise<{ hits: Hit[]; total: number }> {
    // Where the hour counts are cheap, every offset page is located, the first too: the sort then covers
    // the points of the hours that hold the page, not every point (BENCHMARKS.md, *The figures behind
    // the code*: hourCounts).
    const locateFrom = this.search.cheapHourCounts ? 0 : LOCATE_FROM_OFFSET;
    if (!after && (offset >= locateFrom || offset + size > MAX_WINDOW)) return this.deepHits(query, offset, size);
    const res = await this.search.search({
      query,
      sort: POINT_SORT,
      size,
      track_total_hits: true,
      ...(offset > 0 ? { from: offset } : {}),
      ...(after ? { search_after: [...after] } : {}),
    });
    return { hits: res.hits.hits, total: res.hits.total?.value ?? 0 };
  }

  /**
   * Hits beyond the result window, at a cost that does not grow with the offset: count the points of
   * each start hour with a composite aggregation (and, inside an hour larger than the window, of each
   * start, end and type), find the group that holds the offset, read there with a small `from` counted
   * from the nearer end of the group (or, deep inside a group larger than twice the window, from a
   * point-id range found with one `_count`), and continue into the next groups with search_after.
   */
  private async deepHits(query: Clause, offset: number, limit: number): Promise<{ hits: Hit[]; total: number }> {
    const byStart = await locate(this.search, query, offset, BY_START_HOUR, limit);
    if (!byStart.group) return { hits: [], total: byStart.total };
    let group = byStart.group;
    let within = byStart.within;
    let groupSize = byStart.groupSize;
    // POINT_ORDER until the group is one start, end and type (periodTypeOrder).
    let order = POINT_ORDER;
    const depth = nearerEndDepth(within, groupSize, limit);
    // `from` costs what the group's size does, besides its depth, more than counting the group's
    // starts, ends and types does (BENCHMARKS.md, *The figures behind the code*: the inner locate).
    if (depth + limit > MAX_WINDOW || depth >= INNER_LOCATE_FROM || (groupSize > MAX_WINDOW && depth >= LOCATE_FROM_OFFSET)) {
      const inner = await locate(this.search, { bool: { filter: [query, ...group] } }, within, BY_PERIOD_TYPE);
      if (inner.group && inner.key) {
        group = [...group, ...inner.group];
        within = inner.within;
        groupSize = inner.groupSize;
        order = periodTypeOrder(inner.key);
      }
    }
    const inGroup: Clause = { bool: { filter: [query, ...group] } };
    let hits: Hit[];
    const slack = MAX_WINDOW - limit;
    if (nearerEndDepth(within, groupSize, limit) + limit <= MAX_WINDOW) {
      hits = await this.fromNearerEnd(inGroup, order, within, groupSize, limit);
    } else {
      // Deeper than the window from both ends: a group of one period and type larger than twice the
      // window. Sorting only the id range that holds the page is the only way short of a walk.
      // Point ids order the points of one start, end and type only: the id range narrows no larger group.
      const bound = order !== POINT_ORDER && slack > 0 ? await idBound(this.search, inGroup, within, groupSize, slack, limit) : undefined;
      if (bound) {
        const inRange = async (range: { gte: string; lt?: string }) =>
          inOrder(
            order,
            (
              await this.search.search({
                query: { bool: { filter: [inGroup, { range: { point_id: range } }] } },
                sort: order.asc,
                size: limit,
                from: within - bound.before,
                track_total_hits: false,
              })
            ).hits.hits,
          );
        hits = await inRange(bound.range);
        // The upper bound is a guess that holds for ids spread like ours; where it fell short (some ids
        // written by another tool), the range open above holds the page for certain: `before` is exact.
        if (hits.length < limit && bound.range.lt !== undefined) hits = await inRange({ gte: bound.range.gte });
      } else {
        // The ids are not ours (written by another tool) and bisecting them did not converge: walk.
        const after = await this.skip(inGroup, within);
        hits = after
          ? (await this.search.search({ query: inGroup, sort: POINT_SORT, size: limit, search_after: [...after], track_total_hits: false }))
              .hits.hits
          : [];
      }
    }
    const last = hits[hits.length - 1];
    if (hits.length < limit && last?.sort) {
      // The rest of the page lies in the next groups, up to spanEnd: sorting those alone, not every point after.
      const restQuery: Clause =
        byStart.spanEnd !== undefined
          ? { bool: { filter: [query, { range: { start: { lt: byStart.spanEnd, format: "epoch_millis" } } }] } }
          : query;
      const rest = await this.search.search({
        query: restQuery,
        sort: POINT_SORT,
        size: limit - hits.length,
        search_after: last.sort,
        track_total_hits: false,
      });
      hits = [...hits, ...rest.hits.hits];
    }
    return { hits, total: byStart.total };
  }

  /**
   * The group's points at positions `within` to `within + limit` (fewer at its end), read with `from`
   * from whichever end of the group is nearer: the node keeps `from + size` points in its sort queue,
   * so position 10,000 of a group of 14,286 costs what position 4,186 costs. Reversed, they come back in
   * point order.
   */
  private async fromNearerEnd(group: Clause, order: GroupOrder, within: number, groupSize: number, limit: number): Promise<Hit[]> {
    if (within <= groupSize - within - limit) {
      return inOrder(
        order,
        (
          await this.search.search({
            query: group,
            sort: order.asc,
            size: limit,
            ...(within > 0 ? { from: within } : {}),
            track_total_hits: false,
          })
        ).hits.hits,
      );
    }
    const size = Math.min(limit, groupSize - within);
    if (size <= 0) return [];
    const from = groupSize - within - size;
    const res = await this.search.search({ query: group, sort: order.desc, size, ...(from > 0 ? { from } : {}), track_total_hits: false });
    return inOrder(order, res.hits.hits.reverse());
  }

  /** The sort position of the `offset`-th point of a query, walking sort values only; undefined when there are fewer. */
  private async skip(query: Clause, offset: number): Promise<PointCursor | undefined> {
    let remaining = offset;
    for await (const hits of this.search.pages({ query, pageSize: MAX_WINDOW, source: false, limit: offset })) {
      if (hits.length >= remaining) return hits[remaining - 1]?.sort;
      remaining -= hits.length;
    }
    return undefined;
  }

  /**
   * Every matching point once, fastest first, a page at a time: in storage order where the cluster can
   * scan (see PointSearch.scan), each page ordered by period so that it groups into few dataframes;
   * elsewhere the walk in point order.
   */
  async *scan(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate" | "after"> = {}): AsyncGenerator<StoredPoint[]> {
    const query = selectionQuery(withDefaultWindow(options));
    if (!this.search.canScan) {
      for await (const hits of this.search.pages({ query, pageSize: WALK_PAGE, source: true })) yield toPoints(hits);
      return;
    }
    for await (const hits of this.search.scan(query, SCAN_PAGE)) {
      yield toPoints(hits).sort((a, b) => a.begin - b.begin || a.end - b.end);
    }
  }

  /** Every matching point in point order, walked inside one point-in-time where the cluster has one: one consistent view. */
  async *iteratePoints(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate"> = {}): AsyncGenerator<StoredPoint> {
    const query = selectionQuery(withDefaultWindow(options));
    for await (const hits of this.search.pages({
      query,
      pageSize: WALK_PAGE,
      source: true,
      ...(options.after ? { after: options.after } : {}),
    })) {
      for (const p of toPoints(hits)) yield p;
    }
  }
}
