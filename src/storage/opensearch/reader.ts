import type { PointCursor, RetrieveOptions, RetrieveResult, StoredPoint } from "../backend.js";
import { ValidationError } from "../../errors.js";
import { fromDocument, groupIntoDataFrames } from "./documents.js";
import { scopeQuery, withDefaultWindow, type Clause } from "./query.js";
import { MAX_WINDOW, POINT_SORT, type Hit, type PointSearch } from "./search.js";

export const DEFAULT_LIMIT = 1000;
/** Pages fetched while walking (export, paginate=false). */
export const WALK_PAGE = 5000;

function checkPaging(offset: number, limit: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw ValidationError.forField("offset", "must be a non-negative integer");
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_WINDOW) throw ValidationError.forField("limit", `must be an integer from 1 to ${MAX_WINDOW}`);
}

function toPoints(hits: readonly Hit[]): StoredPoint[] {
  return hits.map((h) => fromDocument(h._source));
}

/** CloudKitty's `retrieve`: points matching a scope, grouped into dataframes by period. */
export class PointReader {
  constructor(private readonly search: PointSearch) {}

  async retrieve(options: RetrieveOptions = {}): Promise<RetrieveResult> {
    const scope = withDefaultWindow(options);
    const query = scopeQuery(scope);
    if (options.paginate === false) {
      const points: StoredPoint[] = [];
      for await (const p of this.iterate(options)) points.push(p);
      return { total: points.length, dataframes: groupIntoDataFrames(points) };
    }
    const offset = options.offset ?? 0;
    const limit = options.limit ?? DEFAULT_LIMIT;
    checkPaging(offset, limit);

    if (!options.after && offset + limit > MAX_WINDOW) return this.deepPage(query, offset, limit);
    const res = await this.search.search({
      query,
      sort: POINT_SORT,
      size: limit,
      track_total_hits: true,
      ...(offset > 0 && !options.after ? { from: offset } : {}),
      ...(options.after ? { search_after: [...options.after] } : {}),
    });
    return this.result(res.hits.hits, res.hits.total?.value ?? 0, limit);
  }

  private result(hits: readonly Hit[], total: number, limit: number): RetrieveResult {
    const last = hits[hits.length - 1];
    return {
      total,
      dataframes: groupIntoDataFrames(toPoints(hits)),
      ...(hits.length === limit && last?.sort ? { next: last.sort } : {}),
    };
  }

  /**
   * A page beyond the result window, at a cost that does not grow with the offset: count the points of
   * each sort-prefix group (period and type) with a composite aggregation, find the group that holds
   * the offset, read inside it with a small `from`, and continue into the next groups with search_after.
   */
  private async deepPage(query: Clause, offset: number, limit: number): Promise<RetrieveResult> {
    const located = await this.search.locate(query, offset);
    if (!located.group) return { total: located.total, dataframes: [] };
    const inGroup: Clause = { bool: { filter: [query, ...located.group] } };
    let hits: Hit[];
    if (located.within + limit <= MAX_WINDOW) {
      hits = (await this.search.search({ query: inGroup, sort: POINT_SORT, size: limit, from: located.within, track_total_hits: false })).hits.hits;
    } else {
      // One group larger than the window (a period with over 10,000 points of one type): narrow it by
      // point_id range to within one window of the position; walk only if the ids are not ours.
      const slack = MAX_WINDOW - limit;
      const bound = await this.search.idBound(inGroup, located.within, located.groupSize, slack);
      if (bound) {
        const narrowed: Clause = { bool: { filter: [inGroup, { range: { point_id: { gte: bound.bound } } }] } };
        hits = (await this.search.search({ query: narrowed, sort: POINT_SORT, size: limit, from: located.within - bound.before, track_total_hits: false })).hits.hits;
      } else {
        const after = await this.skip(inGroup, located.within);
        hits = after ? (await this.search.search({ query: inGroup, sort: POINT_SORT, size: limit, search_after: [...after], track_total_hits: false })).hits.hits : [];
      }
    }
    const last = hits[hits.length - 1];
    if (hits.length < limit && last?.sort) {
      const rest = await this.search.search({ query, sort: POINT_SORT, size: limit - hits.length, search_after: last.sort, track_total_hits: false });
      hits = [...hits, ...rest.hits.hits];
    }
    return this.result(hits, located.total, limit);
  }

  /** The sort position of the `offset`-th point of a query, walking sort values only; undefined when there are fewer. */
  private async skip(query: Clause, offset: number): Promise<PointCursor | undefined> {
    let remaining = offset;
    for await (const hits of this.search.pages({ query, pageSize: MAX_WINDOW, source: false })) {
      if (hits.length >= remaining) return hits[remaining - 1]?.sort;
      remaining -= hits.length;
    }
    return undefined;
  }

  async *iterate(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate"> = {}): AsyncGenerator<StoredPoint> {
    const query = scopeQuery(withDefaultWindow(options));
    for await (const hits of this.search.pages({ query, pageSize: WALK_PAGE, source: true, ...(options.after ? { after: options.after } : {}) })) {
      for (const p of toPoints(hits)) yield p;
    }
  }
}
