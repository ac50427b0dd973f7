/**
 * The orders points are read in: POINT_SORT, stable and unique, which every page boundary and cursor
 * follows; its reverse; the order inside one locate group; and storage order, for scans.
 */

/** A stable, unique order: by period, then type, then the point's own id. Every page boundary is exact. */
export const POINT_SORT = [{ start: "asc" }, { end: "asc" }, { type: "asc" }, { point_id: "asc" }] as const;

/** POINT_SORT reversed: reads a group from its end (see PointReader.fromNearerEnd). */
export const POINT_SORT_DESC = [{ start: "desc" }, { end: "desc" }, { type: "desc" }, { point_id: "desc" }] as const;

/** How the points of one locate group are sorted, and how a hit's sort values become POINT_SORT's again. */
export interface GroupOrder {
  readonly asc: readonly Record<string, "asc" | "desc">[];
  readonly desc: readonly Record<string, "asc" | "desc">[];
  cursor(sort: (string | number)[]): (string | number)[];
}

export const POINT_ORDER: GroupOrder = { asc: POINT_SORT, desc: POINT_SORT_DESC, cursor: (sort) => sort };

/** Storage order inside a point-in-time: shard, then Lucene document (see PointSearch.scan). */
export const SCAN_SORT = [{ _shard_doc: "asc" }] as const;
