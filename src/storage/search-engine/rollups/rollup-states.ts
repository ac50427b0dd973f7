/**
 * The rollup states index (`<prefix>-rollups`): a state document per day (clean at a build, dirty, or
 * raw), one per month with a month rollup, and a marker per write in flight. What makes a rollup
 * trustworthy is split between the marks every write sets on the days its points start in before it
 * sends one (write-marks.ts) and the builds, recorded only by compare-and-set on the state they started
 * from (rollup-builder.ts).
 */
import type { ClusterClient } from "../client.js";
import { createServiceIndex } from "../service-index.js";
import type { DayState, MonthState } from "./rollup-plan.js";
import { DAY_MS, dayOf, dayStateId, monthOf, monthStateId, nextMonth } from "./rollup-calendar.js";

/** A document's version, for compare-and-set. */
export interface DocVersion {
  readonly seqNo: number;
  readonly primaryTerm: number;
}

/** What a day's state document holds. */
export interface DayStateDoc {
  readonly kind: "day";
  /** The day (epoch ms of its UTC midnight). */
  readonly at: number;
  readonly status: DayState["status"];
  readonly build?: string;
  /** When a write last marked the day (epoch ms, the writer's clock). */
  readonly marked_at?: number;
  readonly built_at?: number;
  /** Points and rollup documents of the build. */
  readonly points?: number;
  readonly groups?: number;
  /** The limb fields that are not zero in some rollup document of the build (see DayState.limbs). */
  readonly limbs?: readonly string[];
  /** Why a raw day's points cannot be rolled up. */
  readonly reason?: string;
  /** The clean state a write found, put back if the write stored nothing (see WriteMarks). */
  readonly restore?: Omit<DayStateDoc, "restore" | "kind" | "at">;
}

export interface MonthStateDoc {
  readonly kind: "month";
  readonly at: number;
  readonly build: string;
  /** The builds of the month's days it was made from (monthSignature). */
  readonly days: string;
  readonly built_at: number;
  readonly groups: number;
  readonly limbs?: readonly string[];
}

export interface WriteMarkerDoc {
  readonly kind: "write";
  readonly at: number;
  /** Until when the write may still be carried out by the cluster: no build of the day before then. */
  readonly until: number;
}

export interface Versioned<T> {
  readonly doc: T | undefined;
  readonly version?: DocVersion;
}

interface GetAnswer<T> {
  found?: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: T;
}

export interface BulkAnswer {
  items: Record<string, { status: number; _seq_no?: number; _primary_term?: number; error?: unknown }>[];
}

/**
 * How long a write's marker holds builds of its days off when the writer never removes it (it died, or a
 * request got no answer and the cluster may still carry it out): longer than any bulk request can wait
 * in the cluster's queues.
 */
export const WRITE_MARK_TTL_MS = 15 * 60_000;

/** The longest window whose states a summary reads by id (realtime); longer ones search them. */
const MAX_REALTIME_DAYS = 400;

const STATES_MAPPING = {
  dynamic: false,
  properties: {
    kind: { type: "keyword" },
    at: { type: "long" },
    status: { type: "keyword" },
    until: { type: "long" },
    marked_at: { type: "long" },
  },
};

/** The states of a window, as a summary's plan takes them. */
export interface WindowStates {
  readonly days: Map<number, DayState>;
  readonly months: Map<number, MonthState>;
}

function statesOf(docs: readonly (DayStateDoc | MonthStateDoc)[]): WindowStates {
  const days = new Map<number, DayState>();
  const months = new Map<number, MonthState>();
  for (const s of docs) {
    if (s.kind === "day")
      days.set(s.at, { status: s.status, ...(s.build ? { build: s.build } : {}), ...(s.limbs ? { limbs: s.limbs } : {}) });
    else months.set(s.at, { build: s.build, days: s.days, ...(s.limbs ? { limbs: s.limbs } : {}) });
  }
  return { days, months };
}

export class RollupStates {
  private ready = false;

  constructor(
    private readonly client: ClusterClient,
    readonly index: string,
    private readonly replicas: Record<string, string | number>,
  ) {}

  /** Creates the index (one shard: bulk items on it are applied in order) the first time it is needed. */
  async ensure(): Promise<void> {
    if (this.ready) return;
    await createServiceIndex(this.client, this.index, this.replicas, STATES_MAPPING);
    this.ready = true;
  }

  /** One state document, realtime, with its version. */
  async get<T extends DayStateDoc | MonthStateDoc>(id: string): Promise<Versioned<T>> {
    const res = await this.client.request<GetAnswer<T>>({ method: "GET", path: `/${this.index}/_doc/${id}` }, [404]);
    if (!res.body.found || !res.body._source) return { doc: undefined };
    return { doc: res.body._source, version: { seqNo: res.body._seq_no!, primaryTerm: res.body._primary_term! } };
  }

  /** Several state documents by id, realtime, with their versions. */
  async getMany<T extends DayStateDoc | MonthStateDoc>(ids: readonly string[]): Promise<Map<string, Versioned<T>>> {
    const found = new Map<string, Versioned<T>>();
    if (ids.length === 0) return found;
    const res = await this.client.request<{ docs: (GetAnswer<T> & { _id: string })[] }>(
      { method: "POST", path: `/${this.index}/_mget`, body: { ids } },
      [404],
    );
    for (const d of res.body.docs ?? [])
      if (d.found && d._source) found.set(d._id, { doc: d._source, version: { seqNo: d._seq_no!, primaryTerm: d._primary_term! } });
    return found;
  }

  /**
   * Writes a state document if it is still at `version` (or, without one, does not exist yet): false
   * when something changed it meanwhile.
   */
  async put(id: string, doc: DayStateDoc | MonthStateDoc, version: DocVersion | undefined): Promise<boolean> {
    const res = await this.client.request(
      {
        method: "PUT",
        path: `/${this.index}/_doc/${id}`,
        querystring: version ? { if_seq_no: version.seqNo, if_primary_term: version.primaryTerm } : { op_type: "create" },
        body: doc,
      },
      [409],
    );
    return res.status !== 409;
  }

  /** Deletes a state document if it is still at `version`. */
  async remove(id: string, version: DocVersion): Promise<boolean> {
    const res = await this.client.request(
      {
        method: "DELETE",
        path: `/${this.index}/_doc/${id}`,
        querystring: { if_seq_no: version.seqNo, if_primary_term: version.primaryTerm },
      },
      [404, 409],
    );
    return res.status === 200;
  }

  /**
   * The states of the days and months of a window, as a summary reads them: searched, so the caller
   * refreshes the index first. Days beyond the search's size are left out, and so read from raw points.
   */
  async window(begin: number, end: number): Promise<WindowStates> {
    await this.refresh();
    const res = await this.client.request<{ hits: { hits: { _source: DayStateDoc | MonthStateDoc }[] } }>(
      {
        method: "POST",
        path: `/${this.index}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: {
          size: 10_000,
          query: {
            bool: {
              should: [
                { bool: { filter: [{ term: { kind: "day" } }, { range: { at: { gte: dayOf(begin), lt: end } } }] } },
                { bool: { filter: [{ term: { kind: "month" } }, { range: { at: { gte: monthOf(begin), lt: end } } }] } },
              ],
              minimum_should_match: 1,
            },
          },
        },
      },
      [404],
    );
    return statesOf((res.body.hits?.hits ?? []).map((h) => h._source));
  }

  /**
   * The states of the days and months of a window read by id, realtime (no refresh needed, so the read
   * runs beside the summary's refresh); undefined for a window of more than MAX_REALTIME_DAYS days.
   */
  async windowRealtime(begin: number, end: number): Promise<WindowStates | undefined> {
    const dayIds: string[] = [];
    for (let d = dayOf(begin); d < end; d += DAY_MS) {
      if (dayIds.length === MAX_REALTIME_DAYS) return undefined;
      dayIds.push(dayStateId(d));
    }
    const monthIds: string[] = [];
    for (let m = monthOf(begin); m < end; m = nextMonth(m)) monthIds.push(monthStateId(m));
    const found = await this.getMany<DayStateDoc | MonthStateDoc>([...dayIds, ...monthIds]);
    return statesOf([...found.values()].flatMap((v) => (v.doc ? [v.doc] : [])));
  }

  /** Makes every state written so far searchable. */
  private async refresh(): Promise<void> {
    await this.client.request({ method: "POST", path: `/${this.index}/_refresh` }, [404]);
  }

  /** Every day state with the given status (after a refresh of the index), oldest mark first. */
  async daysWithStatus(status: DayState["status"], size = 10_000): Promise<DayStateDoc[]> {
    await this.refresh();
    const res = await this.client.request<{ hits: { hits: { _source: DayStateDoc }[] } }>(
      {
        method: "POST",
        path: `/${this.index}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: {
          size,
          query: { bool: { filter: [{ term: { kind: "day" } }, { term: { status } }] } },
          sort: [{ marked_at: { order: "asc", unmapped_type: "long" } }, { at: "asc" }],
        },
      },
      [404],
    );
    return (res.body.hits?.hits ?? []).map((h) => h._source);
  }

  /** How many days are in each status (after a refresh of the index). */
  async counts(): Promise<Record<DayState["status"], number>> {
    await this.refresh();
    const res = await this.client.request<{ aggregations?: { s?: { buckets: { key: string; doc_count: number }[] } } }>(
      {
        method: "POST",
        path: `/${this.index}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: { size: 0, query: { term: { kind: "day" } }, aggs: { s: { terms: { field: "status", size: 10 } } } },
      },
      [404],
    );
    const counts = { clean: 0, dirty: 0, raw: 0 };
    for (const b of res.body.aggregations?.s?.buckets ?? []) if (b.key in counts) counts[b.key as keyof typeof counts] = b.doc_count;
    return counts;
  }

  /** Whether a write to the day may still be in flight (its marker is there and not past its time). */
  async writing(day: number, now: number): Promise<boolean> {
    await this.refresh();
    const res = await this.client.request<{ count: number }>(
      {
        method: "POST",
        path: `/${this.index}/_count`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: {
          query: { bool: { filter: [{ term: { kind: "write" } }, { term: { at: day } }, { range: { until: { gt: now } } }] } },
        },
      },
      [404],
    );
    return (res.body.count ?? 0) > 0;
  }

  /** Removes the markers of writes whose time is past (their writers died): housekeeping, not correctness. */
  async dropExpiredMarkers(now: number): Promise<void> {
    const res = await this.client.request<{ hits: { hits: { _id: string }[] } }>(
      {
        method: "POST",
        path: `/${this.index}/_search`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
        body: {
          size: 1000,
          _source: false,
          query: { bool: { filter: [{ term: { kind: "write" } }, { range: { until: { lte: now } } }] } },
        },
      },
      [404],
    );
    const ids = (res.body.hits?.hits ?? []).map((h) => h._id);
    if (ids.length === 0) return;
    await this.client.request({
      method: "POST",
      path: `/${this.index}/_bulk`,
      bulkBody: ids.map((id) => JSON.stringify({ delete: { _id: id } }) + "\n").join(""),
    });
  }

  /** The day states of a month, realtime. */
  async monthDays(month: number): Promise<Map<number, Versioned<DayStateDoc>>> {
    const days: number[] = [];
    for (let d = month, end = nextMonth(month); d < end; d += DAY_MS) days.push(d);
    const got = await this.getMany<DayStateDoc>(days.map(dayStateId));
    return new Map(days.flatMap((d) => (got.has(dayStateId(d)) ? [[d, got.get(dayStateId(d))!] as const] : [])));
  }

  monthStateId(month: number): string {
    return monthStateId(month);
  }
}
