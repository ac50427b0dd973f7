/**
 * The searches of points: one search or count, a walk of every hit in point order with `search_after`
 * inside a point-in-time, and a scan in storage order; each read retried by the family's retry policy.
 */
import { BackendUnavailableError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { PointCursor } from "../backend.js";
import type { ClusterProfile } from "./cluster-profile.js";
import type { ClusterClient } from "./client.js";
import { inPit, pitRequests, type PitRequests } from "./pit.js";
import { POINT_SORT, SCAN_SORT } from "./point-order.js";
import { readAhead } from "./read-ahead.js";
import type { Clause } from "./query.js";
import { POINT_DOC_VALUES } from "./documents.js";
import { READ_TRIES, retryableRead, withReadRetries } from "./retry-policy.js";

/** The cluster's default `index.max_result_window`: `from + size` must stay within it. */
export const MAX_WINDOW = 10_000;

export interface Hit {
  _index: string;
  _id: string;
  _source?: unknown;
  fields?: Record<string, unknown[]>;
  sort?: (string | number)[];
}

/**
 * A search body that returns points, with the doc values of the fields their `_source` leaves out
 * (POINT_DOC_VALUES); a body of counts, aggregations or sort values only is sent as it is.
 */
function fetchingPoints(body: Record<string, unknown>): Record<string, unknown> {
  return body.size === 0 || body._source === false ? body : { ...body, docvalue_fields: POINT_DOC_VALUES };
}

export interface SearchResponse {
  hits: { total?: { value: number; relation: string }; hits: Hit[] };
  pit_id?: string;
  aggregations?: Record<string, unknown>;
}

/**
 * Reads that are fine with no partition yet: a missing alias is an empty result, not an error. Partial
 * results are refused: a sum over some of the shards would be a wrong bill, not a smaller one.
 */
export const LENIENT_COUNT = { ignore_unavailable: true, allow_no_indices: true } as const;
export const LENIENT = { ...LENIENT_COUNT, allow_partial_search_results: false } as const;

export interface PageWalk {
  readonly query: Clause;
  readonly pageSize: number;
  readonly after?: PointCursor;
  /** false: only sort values and ids (skipping, deleting). */
  readonly source: boolean;
  /** The most hits the caller takes: no page is read past them (pages are read one ahead otherwise). */
  readonly limit?: number;
}

/**
 * Walks every hit of a query in POINT_SORT order with `search_after`, inside a point-in-time where the
 * cluster offers one (a consistent view however long the walk), never with scroll and never with `from`.
 */
export class PointSearch {
  private readonly pit: PitRequests | undefined;
  /** Whether `scan` can read in storage order (see ClusterProfile.storageOrder). */
  readonly canScan: boolean;
  /** Whether counting points by start hour costs little more than a `_count` (see ClusterProfile.hourCounts). */
  readonly cheapHourCounts: boolean;

  constructor(
    private readonly client: ClusterClient,
    private readonly target: string,
    profile: ClusterProfile,
    private readonly logger: Logger,
  ) {
    this.pit = pitRequests(profile);
    this.canScan = this.pit !== undefined && profile.storageOrder === "shard_doc";
    this.cheapHourCounts = profile.hourCounts === "points_index";
  }

  async search(body: Record<string, unknown>): Promise<SearchResponse> {
    return withReadRetries(
      async () =>
        (
          await this.client.request<SearchResponse>({
            method: "POST",
            path: `/${this.target}/_search`,
            querystring: LENIENT,
            body: fetchingPoints(body),
          })
        ).body,
      this.logger,
    );
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
    let lost = 0;
    const read = async (after: PointCursor | undefined): Promise<Hit[]> => {
      for (;;) {
        const body = fetchingPoints({
          query: walk.query,
          sort: POINT_SORT,
          size: walk.pageSize,
          track_total_hits: false,
          _source: walk.source,
          ...(after ? { search_after: after } : {}),
        });
        let res: SearchResponse;
        if (pitId) {
          try {
            const id = pitId;
            res = (
              await this.client.request<SearchResponse>({
                method: "POST",
                path: "/_search",
                querystring: { allow_partial_search_results: false },
                body: { ...body, ...inPit(id) },
              })
            ).body;
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
        return hits;
      }
    };
    let received = 0;
    const following = (hits: Hit[]) => {
      received += hits.length;
      return hits.length === walk.pageSize && (walk.limit === undefined || received < walk.limit)
        ? read(hits[hits.length - 1]!.sort)
        : undefined;
    };
    try {
      for await (const hits of readAhead(read(walk.after ? [...walk.after] : undefined), following)) if (hits.length > 0) yield hits;
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
    const opened = await this.openPit();
    if (!opened) return;
    let pitId: string = opened;
    const page = (id: string, after: (string | number)[] | undefined): Promise<SearchResponse> =>
      this.client
        .request<SearchResponse>({
          method: "POST",
          path: "/_search",
          querystring: { allow_partial_search_results: false },
          body: {
            ...fetchingPoints({ query, sort: SCAN_SORT, size: pageSize, track_total_hits: false }),
            ...(after ? { search_after: after } : {}),
            ...inPit(id),
          },
        })
        .then(
          (res) => res.body,
          (err: unknown) => {
            if (!retryableRead(err)) throw err;
            throw new BackendUnavailableError(
              `the point-in-time of a scan was lost (a partition was deleted, or its node left); run the export again: ${(err as Error).message}`,
              5,
              { cause: err },
            );
          },
        );
    const following = (res: SearchResponse) => {
      if (res.pit_id) pitId = res.pit_id;
      const hits = res.hits.hits;
      return hits.length === pageSize ? page(pitId, hits[hits.length - 1]!.sort) : undefined;
    };
    try {
      for await (const res of readAhead(page(pitId, undefined), following)) if (res.hits.hits.length > 0) yield res.hits.hits;
    } finally {
      await this.closePit(pitId);
    }
  }

  async count(query: Clause): Promise<number> {
    // `_count` takes no allow_partial_search_results.
    return withReadRetries(
      async () =>
        (
          await this.client.request<{ count: number }>({
            method: "POST",
            path: `/${this.target}/_count`,
            querystring: LENIENT_COUNT,
            body: { query },
          })
        ).body.count,
      this.logger,
    );
  }
}
