import { BackendError, BackendUnavailableError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { PointCursor } from "../backend.js";
import type { ClusterProfile } from "./cluster-profile.js";
import type { ClusterClient } from "./client.js";
import { inPit, pitRequests, type PitRequests } from "./pit.js";
import { readAhead } from "./read-ahead.js";
import type { Clause } from "./query.js";
import { POINT_DOC_VALUES } from "./documents.js";

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

/**
 * Inside one group of BY_PERIOD_TYPE the start, end and type are fixed, so the point id alone orders
 * its points, and the node compares one value per point instead of four (position 4,000 of a group of
 * 14,286: 25-27 ms against 33-35 ms; 7,000: 30-38 against 43-47).
 */
export function periodTypeOrder(key: LocateKey): GroupOrder {
  return { asc: [{ point_id: "asc" }], desc: [{ point_id: "desc" }], cursor: (sort) => [key.s!, key.e!, key.t!, ...sort] };
}

/** Storage order inside a point-in-time: shard, then Lucene document (see PointSearch.scan). */
export const SCAN_SORT = [{ _shard_doc: "asc" }] as const;

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

/** A composite bucket's key at a locate level: a start hour, or a start, end and type. */
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
 * from the points index of `start` instead of reading a doc value per point: on 1,000,000 points, 4-5 ms
 * of node time against 52 ms for a terms source over `start` (a finer interval than the hour was as
 * fast for 10 hours of data, but a second was not, and the shortcut needs few buckets per shard). A
 * group holds every start of its hour: contiguous in point order whatever the period.
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
  /** That group's composite key. */
  readonly key?: LocateKey;
  readonly within: number;
  readonly groupSize: number;
  /** The starts of the `span` points from the offset are below this (epoch ms), when known. */
  readonly spanEnd?: number;
}

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
    return this.retried(
      async () =>
        (
          await this.client.request<SearchResponse>({
            method: "POST",
            path: `/${this.target}/_search`,
            querystring: LENIENT,
            body: fetchingPoints(body),
          })
        ).body,
    );
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

  /**
   * Finds which group of a locate level holds the `offset`-th point of a query, and the point's
   * position inside it, from the groups' document counts (BY_START_HOUR, then BY_PERIOD_TYPE for a
   * query already inside one hour). With `span`, also where the `span` points from the offset end.
   */
  async locate(query: Clause, offset: number, level: LocateLevel, span = 0): Promise<Located> {
    const sources = level.sources;
    let before = 0;
    let after: Record<string, unknown> | undefined;
    let total: number | undefined;
    for (;;) {
      const res = await this.search({
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
   * value (1,000,000 points: 15 ms near the start of the id space, 110 ms near its end, 8-12 ms only
   * when the same bound is asked again and the node's query cache holds it), which is why the reader
   * uses it only where `from` cannot reach (see PointReader.fromNearerEnd). Bisects when a guess
   * misses (ids written by another tool), then with no upper bound; undefined when that does not converge.
   */
  async idBound(
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
      const before = await this.count({ bool: { filter: [groupQuery, { range: { point_id: { lt: bound } } }] } });
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

  async count(query: Clause): Promise<number> {
    // `_count` takes no allow_partial_search_results.
    return this.retried(
      async () =>
        (
          await this.client.request<{ count: number }>({
            method: "POST",
            path: `/${this.target}/_count`,
            querystring: LENIENT_COUNT,
            body: { query },
          })
        ).body.count,
    );
  }
}
