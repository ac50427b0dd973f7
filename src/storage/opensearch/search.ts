import { BackendError, BackendUnavailableError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { PointCursor } from "../backend.js";
import type { ClusterProfile } from "../cluster-profile.js";
import type { ClusterClient } from "./client.js";
import { inPit, pitRequests, type PitRequests } from "./pit.js";
import type { Clause } from "./query.js";

/** A stable, unique order: by period, then type, then the point's own id. Every page boundary is exact. */
export const POINT_SORT = [{ start: "asc" }, { end: "asc" }, { type: "asc" }, { point_id: "asc" }] as const;

/** Storage order inside a point-in-time: shard, then Lucene document (see PointSearch.scan). */
export const SCAN_SORT = [{ _shard_doc: "asc" }] as const;

/** The cluster's default `index.max_result_window`: `from + size` must stay within it. */
export const MAX_WINDOW = 10_000;

export interface Hit {
  _index: string;
  _id: string;
  _source?: unknown;
  sort?: (string | number)[];
}

export interface SearchResponse {
  hits: { total?: { value: number; relation: string }; hits: Hit[] };
  pit_id?: string;
  aggregations?: Record<string, unknown>;
}

/**
 * Composite sources over POINT_SORT's prefix, in its order: the period's start, then (inside one
 * start) end and type. Counting by start alone reads one doc value per point, a third of the cost of
 * all three; the finer level is only asked inside a start larger than the result window.
 */
export const START_SOURCES = [{ s: { terms: { field: "start" } } }];
export const END_TYPE_SOURCES = [{ e: { terms: { field: "end" } } }, { t: { terms: { field: "type" } } }];
const LOCATE_PAGE = 10_000;

/**
 * Point-id ranges counted in each group when locating inside a start: inside a group larger than the
 * result window, the counts give the exact position of every range, so the page sorts only the points
 * of the range that holds it (about groupSize / 32) without another request. 32 ranges cost 6 ms of
 * node time on 100,000 points, against 10-12 ms for the `_count` they replace (see idWindow).
 */
export const ID_RANGES = 32;

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

/** The k-th to (j-1)-th of ID_RANGES point-id ranges, as range bounds; the first is open below, the last above, so together they hold every id. */
function idRange(k: number, j: number): { gte?: string; lt?: string } {
  return { ...(k > 0 ? { gte: idAt(k / ID_RANGES) } : {}), ...(j < ID_RANGES ? { lt: idAt(j / ID_RANGES) } : {}) };
}

const ID_RANGE_FILTERS = Array.from({ length: ID_RANGES }, (_, k) => ({ range: { point_id: idRange(k, k + 1) } }));

/**
 * Inside one group larger than the result window, from its points' counts per id range: the id range
 * to sort (the range holding `position`, extended until it holds the page) and the `from` inside it.
 * Undefined when the ranges cannot place the page within the window: ids not spread like ours (written
 * by another tool), or points without one.
 */
export function idWindow(counts: readonly number[], position: number, limit: number): { range: { gte?: string; lt?: string }; from: number } | undefined {
  let k = 0;
  let before = 0;
  while (k < counts.length && before + counts[k]! <= position) before += counts[k++]!;
  if (k === counts.length) return undefined;
  const from = position - before;
  if (from + limit > MAX_WINDOW) return undefined;
  let j = k;
  let held = 0;
  while (j < counts.length && held < from + limit) held += counts[j++]!;
  return { range: idRange(k, j), from };
}

/**
 * Reads that are fine with no partition yet: a missing alias is an empty result, not an error. Partial
 * results are refused: a sum over some of the shards would be a wrong bill, not a smaller one.
 */
export const LENIENT_COUNT = { ignore_unavailable: true, allow_no_indices: true } as const;
export const LENIENT = { ...LENIENT_COUNT, allow_partial_search_results: false } as const;

/** Tries of a read whose target changed under it (a partition deleted by retention between resolution and search). */
const READ_TRIES = 3;

/**
 * Whether a failed read may succeed when sent again: the cluster was briefly unavailable, or a partition
 * that the alias named when the search started was deleted before its shards answered.
 */
function retryableRead(err: unknown): boolean {
  return err instanceof BackendUnavailableError || (err instanceof BackendError && err.status === 404);
}

/** Where an offset lies: its sort-prefix group and position inside it (see PointSearch.locate). */
export interface Located {
  readonly total: number;
  /** The filters of the group that holds the offset; absent when there are fewer points. */
  readonly group?: Clause[];
  readonly within: number;
  readonly groupSize: number;
  /** The last start (epoch ms) holding any of the `span` points from the offset, when known. */
  readonly spanEnd?: number;
  /** The group's points in each of the ID_RANGES point-id ranges, when they were asked for. */
  readonly idCounts?: readonly number[];
}

export interface PageWalk {
  readonly query: Clause;
  readonly pageSize: number;
  readonly after?: PointCursor;
  /** false: only sort values and ids (skipping, deleting). */
  readonly source: boolean;
}

/**
 * Walks every hit of a query in POINT_SORT order with `search_after`, inside a point-in-time where the
 * cluster offers one (a consistent view however long the walk), never with scroll and never with `from`.
 */
export class PointSearch {
  private readonly pit: PitRequests | undefined;
  /** Whether `scan` can read in storage order (see ClusterProfile.storageOrder). */
  readonly canScan: boolean;

  constructor(
    private readonly client: ClusterClient,
    private readonly target: string,
    profile: ClusterProfile,
    private readonly logger: Logger,
  ) {
    this.pit = pitRequests(profile);
    this.canScan = this.pit !== undefined && profile.storageOrder === "shard_doc";
  }

  async search(body: Record<string, unknown>): Promise<SearchResponse> {
    return this.retried(async () => (await this.client.request<SearchResponse>({ method: "POST", path: `/${this.target}/_search`, querystring: LENIENT, body })).body);
  }

  private async retried<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (attempt >= READ_TRIES || !retryableRead(err)) throw err;
        this.logger.info("read failed; sending it again", { attempt, error: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  private async openPit(): Promise<string | undefined> {
    if (!this.pit) return undefined;
    // 404: no partition yet, so nothing to hold a view of; the walk's lenient searches find nothing.
    const res = await this.client.request(this.pit.open(this.target), [404]);
    return res.status === 404 ? undefined : this.pit.idOf(res.body);
  }

  private async closePit(pitId: string): Promise<void> {
    if (!this.pit) return;
    try {
      await this.client.request(this.pit.close(pitId), [404]);
    } catch (err) {
      // It expires by itself within keep_alive; a failed close costs nothing but a log line.
      this.logger.warn("could not close point-in-time", { error: (err as Error).message });
    }
  }

  async *pages(walk: PageWalk): AsyncGenerator<Hit[]> {
    let pitId = await this.openPit();
    let after = walk.after ? [...walk.after] : undefined;
    let lost = 0;
    try {
      for (;;) {
        const body: Record<string, unknown> = {
          query: walk.query,
          sort: POINT_SORT,
          size: walk.pageSize,
          track_total_hits: false,
          _source: walk.source,
          ...(after ? { search_after: after } : {}),
        };
        let res: SearchResponse;
        if (pitId) {
          try {
            const id = pitId;
            res = (await this.client.request<SearchResponse>({ method: "POST", path: "/_search", querystring: { allow_partial_search_results: false }, body: { ...body, ...inPit(id) } })).body;
          } catch (err) {
            if (!retryableRead(err) || ++lost >= READ_TRIES) throw err;
            // The view lost a partition (retention deleted it) or the node holding it: go on from the
            // same position in a new view, so the walk neither repeats nor skips a point.
            this.logger.info("point-in-time lost; continuing the walk in a new one", { error: (err as Error).message });
            await this.closePit(pitId);
            pitId = await this.openPit();
            continue;
          }
          lost = 0;
          if (res.pit_id) pitId = res.pit_id;
        } else {
          res = await this.search(body);
        }
        const hits = res.hits.hits;
        // Elasticsearch's point-in-time appends its implicit `_shard_doc` tiebreaker to every sort. The
        // point order is total already (point_id is unique): cursors keep its keys alone, so that they
        // stay valid outside this point-in-time.
        for (const h of hits) if (h.sort && h.sort.length > POINT_SORT.length) h.sort = h.sort.slice(0, POINT_SORT.length);
        if (hits.length > 0) yield hits;
        if (hits.length < walk.pageSize) return;
        after = hits[hits.length - 1]!.sort;
      }
    } finally {
      if (pitId) await this.closePit(pitId);
    }
  }

  /**
   * Every hit of a query once, in the order the shards store them (`_shard_doc` inside one
   * point-in-time): documents are fetched sequentially, where a walk in point order fetches each from
   * a different compressed block. Only where `canScan`. The order exists in this view only, so a lost
   * view cannot be resumed in another: the scan fails and says so.
   */
  async *scan(query: Clause, pageSize: number): AsyncGenerator<Hit[]> {
    if (!this.canScan) throw new Error("scan needs a point-in-time with _shard_doc order (ClusterProfile.storageOrder)");
    let pitId = await this.openPit();
    if (!pitId) return;
    const page = (id: string, after: (string | number)[] | undefined): Promise<SearchResponse> =>
      this.client
        .request<SearchResponse>({
          method: "POST",
          path: "/_search",
          querystring: { allow_partial_search_results: false },
          body: { query, sort: SCAN_SORT, size: pageSize, track_total_hits: false, ...(after ? { search_after: after } : {}), ...inPit(id) },
        })
        .then(
          (res) => res.body,
          (err: unknown) => {
            if (!retryableRead(err)) throw err;
            throw new BackendUnavailableError(`the point-in-time of a scan was lost (a partition was deleted, or its node left); run the export again: ${(err as Error).message}`, 5, { cause: err });
          },
        );
    // The next page is requested as soon as a page arrives, so the cluster reads it while this one is
    // converted and written: two pages in memory at most.
    let pending: Promise<SearchResponse> | undefined = page(pitId, undefined);
    try {
      while (pending) {
        const res: SearchResponse = await pending;
        pending = undefined;
        if (res.pit_id) pitId = res.pit_id;
        const hits = res.hits.hits;
        if (hits.length === pageSize) pending = page(pitId, hits[hits.length - 1]!.sort);
        if (hits.length > 0) yield hits;
      }
    } finally {
      // A consumer that stops early leaves a request in flight: let it settle before closing its view.
      await pending?.then(
        () => undefined,
        () => undefined,
      );
      await this.closePit(pitId);
    }
  }

  /**
   * Finds which sort-prefix group holds the `offset`-th point of a query, and the point's position
   * inside it, from the groups' document counts. `sources` are START_SOURCES, or END_TYPE_SOURCES for
   * a query already inside one start (where `idCounts` also counts each group's points per id range).
   * Groups come in POINT_SORT order, so the counts add up to positions.
   */
  async locate(query: Clause, offset: number, how: { sources?: readonly Record<string, unknown>[]; span?: number; idCounts?: boolean } = {}): Promise<Located> {
    const { sources = START_SOURCES, span = 0 } = how;
    let before = 0;
    let after: Record<string, unknown> | undefined;
    let total: number | undefined;
    for (;;) {
      const res = await this.search({
        query,
        size: 0,
        track_total_hits: total === undefined,
        aggs: {
          prefix: {
            composite: { size: LOCATE_PAGE, sources, ...(after ? { after } : {}) },
            ...(how.idCounts ? { aggs: { ids: { filters: { filters: ID_RANGE_FILTERS } } } } : {}),
          },
        },
      });
      total ??= res.hits.total?.value ?? 0;
      const agg = res.aggregations?.prefix as
        | { buckets: { key: { s?: number; e?: number; t?: string }; doc_count: number; ids?: { buckets: { doc_count: number }[] } }[]; after_key?: Record<string, unknown> }
        | undefined;
      const buckets = agg?.buckets ?? [];
      for (let i = 0; i < buckets.length; i++) {
        const b = buckets[i]!;
        if (before + b.doc_count > offset) {
          const group: Clause[] = [];
          if (b.key.s !== undefined) group.push({ range: { start: { gte: b.key.s, lte: b.key.s, format: "epoch_millis" } } });
          if (b.key.e !== undefined) group.push({ range: { end: { gte: b.key.e, lte: b.key.e, format: "epoch_millis" } } });
          if (b.key.t !== undefined) group.push({ term: { type: b.key.t } });
          // The last start that the `span` points from the offset reach, when this page of groups shows it.
          let reach = before + b.doc_count;
          let lastStart = b.key.s;
          for (let j = i + 1; j < buckets.length && reach < offset + span; j++) {
            reach += buckets[j]!.doc_count;
            lastStart = buckets[j]!.key.s;
          }
          const spanEnd = reach >= offset + span ? lastStart : undefined;
          const idCounts = b.ids?.buckets.map((r) => r.doc_count);
          return { total, group, within: offset - before, groupSize: b.doc_count, ...(spanEnd !== undefined ? { spanEnd } : {}), ...(idCounts ? { idCounts } : {}) };
        }
        before += b.doc_count;
      }
      if (!agg?.after_key || agg.buckets.length < LOCATE_PAGE) return { total, within: 0, groupSize: 0 };
      after = agg.after_key;
    }
  }

  /**
   * Inside one group larger than the result window, finds a point_id bound below which lie at most
   * `position` points and above which the position is less than `slack` further on. Point ids are
   * hashes, uniform over the base64url alphabet: the count below the id at fraction f of the group is
   * binomial, with a standard deviation of at most sqrt(groupSize)/2. The first guess aims 8 such
   * deviations below the position, so one `_count` suffices and the `from` left to sort stays small (the
   * node sorts from + size points: 300 costs half of 5,000). Bisects when a guess misses (ids written by
   * another tool); undefined when that does not converge.
   */
  async idBound(groupQuery: Clause, position: number, groupSize: number, slack: number): Promise<{ bound: string; before: number } | undefined> {
    let lo = 0;
    let hi = 1;
    const margin = Math.min(slack / 2, 4 * Math.sqrt(groupSize));
    let f = Math.max(0, position - margin) / groupSize;
    for (let i = 0; i < 30; i++) {
      const bound = idAt(f);
      const before = await this.count({ bool: { filter: [groupQuery, { range: { point_id: { lt: bound } } }] } });
      if (before <= position && position - before < slack) return { bound, before };
      if (before > position) hi = f;
      else lo = f;
      f = (lo + hi) / 2;
    }
    return undefined;
  }

  async count(query: Clause): Promise<number> {
    // `_count` takes no allow_partial_search_results.
    return this.retried(async () => (await this.client.request<{ count: number }>({ method: "POST", path: `/${this.target}/_count`, querystring: LENIENT_COUNT, body: { query } })).body.count);
  }
}
