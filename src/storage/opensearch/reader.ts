import type { PointCursor, RetrieveOptions, RetrieveResult, StoredPoint } from "../backend.js";
import { ValidationError } from "../../errors.js";
import { fromDocument, groupIntoDataFrames } from "./documents.js";
import { scopeQuery, withDefaultWindow } from "./query.js";
import { MAX_WINDOW, POINT_SORT, type Hit, type PointSearch } from "./search.js";

export const DEFAULT_LIMIT = 1000;
/** Pages fetched while walking (export, paginate=false, deep offsets). */
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

    let after: PointCursor | undefined = options.after;
    let from = 0;
    if (!after && offset + limit <= MAX_WINDOW) {
      from = offset;
    } else if (!after && offset > 0) {
      // Beyond the result window: walk sort values only (no _source) up to the offset, then read one page.
      after = await this.skip(query, offset);
      if (!after) return { total: await this.search.count(query), dataframes: [] };
    }
    const res = await this.search.search({
      query,
      sort: POINT_SORT,
      size: limit,
      track_total_hits: true,
      ...(from > 0 ? { from } : {}),
      ...(after ? { search_after: [...after] } : {}),
    });
    const hits = res.hits.hits;
    const last = hits[hits.length - 1];
    return {
      total: res.hits.total?.value ?? 0,
      dataframes: groupIntoDataFrames(toPoints(hits)),
      ...(hits.length === limit && last?.sort ? { next: last.sort } : {}),
    };
  }

  /** The sort position of the `offset`-th point, or undefined when there are fewer. */
  private async skip(query: Record<string, unknown>, offset: number): Promise<PointCursor | undefined> {
    let remaining = offset;
    let after: PointCursor | undefined;
    while (remaining > 0) {
      const size = Math.min(MAX_WINDOW, remaining);
      const res = await this.search.search({ query, sort: POINT_SORT, size, _source: false, track_total_hits: false, ...(after ? { search_after: [...after] } : {}) });
      const hits = res.hits.hits;
      if (hits.length < size) return undefined;
      after = hits[hits.length - 1]!.sort;
      remaining -= size;
    }
    return after;
  }

  async *iterate(options: Omit<RetrieveOptions, "offset" | "limit" | "paginate"> = {}): AsyncGenerator<StoredPoint> {
    const query = scopeQuery(withDefaultWindow(options));
    for await (const hits of this.search.pages({ query, pageSize: WALK_PAGE, source: true, ...(options.after ? { after: options.after } : {}) })) {
      for (const p of toPoints(hits)) yield p;
    }
  }
}
