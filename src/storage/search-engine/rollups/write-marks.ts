/**
 * The marks writes set on the days their points start in (a point counts in no rollup but its start
 * day's, and reads leave raw points out by their start alone), before any point is sent:
 * - a marker in the states index holds builds of the day off while a write may be in flight, so no
 *   build reads the day half-written (a process that dies leaves it until WRITE_MARK_TTL_MS);
 * - the day's state is set dirty, which moves its sequence number, so a build that read the state
 *   before the mark cannot record itself (compare-and-set) and reads fall back to raw points;
 * - after the last answer the state is set dirty again (a build that read the day while the marker had
 *   lapsed cannot stay recorded), or, when nothing changed (a push of points already stored), the clean
 *   state found is put back if nothing else touched it since, so idempotent pushes dirty nothing.
 * Writes of one process to one day share a mark while one is held: the first sets it, later ones join
 * it with no request, and it is settled once the last has ended (a moment later if they changed the
 * day, so that the next push of a steady stream joins it too). A mark is joined for MAX_JOIN_MS at most,
 * then a new one is set, so a marker in use is never older than its time to live.
 */
import { randomUUID } from "node:crypto";
import { backoffMs, sleep } from "../../../backoff.js";
import { BackendError, BackendUnavailableError } from "../../../errors.js";
import type { Logger } from "../../../logger.js";
import type { ClusterClient } from "../client.js";
import { dayStateId, dayText } from "./rollup-calendar.js";
import {
  WRITE_MARK_TTL_MS,
  type BulkAnswer,
  type DayStateDoc,
  type DocVersion,
  type RollupStates,
  type Versioned,
  type WriteMarkerDoc,
} from "./rollup-states.js";

/** What a write did: whether anything may have changed, and whether every request was answered. */
export interface WriteOutcome {
  /** Points were stored or deleted, or may have been (a request with no answer). */
  readonly changed: boolean;
  /** Every request of the write was answered: nothing of it can still be carried out by the cluster. */
  readonly settled: boolean;
}

/** Times a mark is sent again after a transient refusal or a state that changed meanwhile. */
const MARK_RETRIES = 5;
/** How long a mark that saw changes is kept after its last write, for the next write of the day to join. */
const LINGER_MS = 1_000;
/** How long a mark is joined at most: far below WRITE_MARK_TTL_MS, so that a live marker never lapses. */
const MAX_JOIN_MS = 60_000;

/** One mark on one day, shared by the writes of this process that joined it. */
interface DayMark {
  readonly day: number;
  readonly markerId: string;
  readonly setAt: number;
  /** Settles when the marker and the dirty state are stored. */
  ready: Promise<void>;
  /** The clean state found, with the version the mark left it at: put back if no write changed anything. */
  restore?: { doc: DayStateDoc; version: DocVersion };
  writers: number;
  changed: boolean;
  unsettled: boolean;
  /** No longer joinable: its settling has begun. */
  closing: boolean;
  linger?: NodeJS.Timeout;
}

export class DayMarks {
  private readonly held = new Map<number, DayMark>();
  private readonly settling = new Set<Promise<void>>();

  constructor(
    private readonly client: ClusterClient,
    private readonly states: RollupStates,
    private readonly logger: Logger,
    /** Names each mark's marker (random; fixed by the golden request fixtures, as is the clock). */
    private readonly newId: () => string = randomUUID,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A handle for one write (a push or a delete). */
  forWrite(): WriteMarks {
    return new WriteMarks(this);
  }

  /** Holds a mark on each day for one write: joins the marks held, sets the others (in one request). */
  async join(days: readonly number[], now: number): Promise<DayMark[]> {
    const joined: DayMark[] = [];
    const fresh: DayMark[] = [];
    for (const day of days) {
      const held = this.held.get(day);
      if (held && !held.closing && now - held.setAt < MAX_JOIN_MS) {
        if (held.linger) clearTimeout(held.linger);
        held.linger = undefined;
        held.writers++;
        joined.push(held);
        continue;
      }
      const mark: DayMark = {
        day,
        markerId: `write-${dayText(day)}-${this.newId()}`,
        setAt: now,
        ready: Promise.resolve(),
        writers: 1,
        changed: false,
        unsettled: false,
        closing: false,
      };
      // A mark too old to join (or being settled) keeps its writers; new writes hold the new one.
      this.held.set(day, mark);
      fresh.push(mark);
      joined.push(mark);
    }
    if (fresh.length > 0) {
      const setting = this.set(fresh, now);
      for (const m of fresh) m.ready = setting;
      setting.catch(() => {
        for (const m of fresh) if (this.held.get(m.day) === m) this.held.delete(m.day);
      });
    }
    const outcomes = await Promise.allSettled(joined.map((m) => m.ready));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) {
      // The write sends nothing: it leaves the marks that were set as a write that changed nothing.
      for (const m of joined.filter((_, i) => outcomes[i]!.status === "rejected")) m.writers--;
      await this.leave(
        joined.filter((_, i) => outcomes[i]!.status === "fulfilled"),
        { changed: false, settled: true },
      );
      throw failed.reason;
    }
    return joined;
  }

  /**
   * A write has ended: its marks are left, and each is settled once its last write has left it. Returns
   * once the marks settled now are (a clean state put back is there before the write answers); a mark
   * that saw changes lingers, and is settled later.
   */
  async leave(marks: readonly DayMark[], outcome: WriteOutcome): Promise<void> {
    const now: Promise<void>[] = [];
    for (const m of marks) {
      m.writers--;
      m.changed ||= outcome.changed;
      m.unsettled ||= !outcome.settled;
      if (m.writers > 0) continue;
      if (m.changed && !m.unsettled && !m.closing) {
        m.linger = setTimeout(() => void this.settle(m), LINGER_MS);
        m.linger.unref();
      } else {
        now.push(this.settle(m));
      }
    }
    await Promise.all(now);
  }

  /** Settles now every mark no write holds (before the process stops). */
  async flush(): Promise<void> {
    for (const m of this.held.values()) {
      if (m.writers > 0 || !m.linger) continue;
      clearTimeout(m.linger);
      void this.settle(m);
    }
    await Promise.all([...this.settling]);
  }

  /**
   * Sets the day dirty again if a write of the mark changed it, or puts back the clean state the mark
   * found if none did (and nothing touched the state since), and removes the marker once every write of
   * it was answered; one that may still be carried out leaves its marker to expire. Never throws: marks
   * left behind only delay builds.
   */
  private settle(m: DayMark): Promise<void> {
    m.closing = true;
    m.linger = undefined;
    if (this.held.get(m.day) === m) this.held.delete(m.day);
    const lines: string[] = [];
    if (m.changed) {
      // Marked again after the last answer: a build that read the day while its marker had lapsed (a
      // write longer than the marker's time to live) cannot stay recorded. The quiet time counts from here.
      const dirty: DayStateDoc = { kind: "day", at: m.day, status: "dirty", marked_at: this.clock() };
      lines.push(JSON.stringify({ index: { _id: dayStateId(m.day) } }), JSON.stringify(dirty));
    } else if (m.restore) {
      const { restore: _r, ...clean } = m.restore.doc;
      const { seqNo, primaryTerm } = m.restore.version;
      lines.push(
        JSON.stringify({ index: { _id: dayStateId(m.day), if_seq_no: seqNo, if_primary_term: primaryTerm } }),
        JSON.stringify(clean),
      );
    }
    if (!m.unsettled) lines.push(JSON.stringify({ delete: { _id: m.markerId } }));
    if (lines.length === 0) return Promise.resolve();
    const sent = this.client
      .request({ method: "POST", path: `/${this.states.index}/_bulk`, bulkBody: lines.join("\n") + "\n" })
      .then(
        () => undefined,
        (err: unknown) => {
          this.logger.warn("could not settle a write's rollup mark; the day is rebuilt once the mark expires", {
            day: dayText(m.day),
            error: (err as Error).message,
          });
        },
      )
      .finally(() => this.settling.delete(sent));
    this.settling.add(sent);
    return sent;
  }

  /**
   * Stores the marks: a marker per day and its state set dirty (by compare-and-set where it was clean, to
   * put it back if nothing changes). Transient refusals (a 503, 429 items) are sent again with backoff, as
   * the writer does its points; anything else throws a BackendError carrying the cluster's status.
   */
  private async set(marks: readonly DayMark[], now: number): Promise<void> {
    await this.states.ensure();
    let todo = marks;
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt > MARK_RETRIES)
        throw new BackendUnavailableError(
          `the rollup states of ${todo.length} days could not be marked: they kept changing or were refused`,
        );
      if (attempt > 0) await sleep(backoffMs(attempt - 1));
      let found: Map<string, Versioned<DayStateDoc>>;
      let res: { body: BulkAnswer };
      try {
        found = await this.states.getMany<DayStateDoc>(todo.map((m) => dayStateId(m.day)));
        res = await this.client.request<BulkAnswer>({
          method: "POST",
          path: `/${this.states.index}/_bulk`,
          bulkBody: markLines(todo, found, now),
        });
      } catch (err) {
        // Nothing is known written: the step is done again (a marker or state written twice is the same mark).
        if (err instanceof BackendUnavailableError && attempt < MARK_RETRIES) continue;
        throw err;
      }
      const retry: DayMark[] = [];
      todo.forEach((m, i) => {
        const marker = Object.values(res.body.items[2 * i]!)[0]!;
        const state = Object.values(res.body.items[2 * i + 1]!)[0]!;
        for (const item of [marker, state]) {
          if (item.status < 300 || item.status === 409 || item.status === 429 || item.status >= 500) continue;
          throw new BackendError(`the rollup state of ${dayText(m.day)} could not be marked: ${JSON.stringify(item.error)}`, item.status);
        }
        // A state changed since it was read (409), or an item refused for now: that day again.
        if (marker.status >= 300 || state.status >= 300) return void retry.push(m);
        const clean = found.get(dayStateId(m.day));
        if (clean?.doc?.status === "clean")
          m.restore = { doc: clean.doc, version: { seqNo: state._seq_no!, primaryTerm: state._primary_term! } };
      });
      todo = retry;
    }
  }
}

/** The bulk lines of a set of marks. */
function markLines(marks: readonly DayMark[], found: ReadonlyMap<string, Versioned<DayStateDoc>>, now: number): string {
  const lines: string[] = [];
  for (const m of marks) {
    const marker: WriteMarkerDoc = { kind: "write", at: m.day, until: now + WRITE_MARK_TTL_MS };
    lines.push(JSON.stringify({ index: { _id: m.markerId } }), JSON.stringify(marker));
    const current = found.get(dayStateId(m.day));
    const dirty: DayStateDoc = { kind: "day", at: m.day, status: "dirty", marked_at: now };
    if (current?.doc?.status === "clean") {
      const { kind: _k, at: _a, restore: _r, ...kept } = current.doc;
      const version = current.version!;
      lines.push(
        JSON.stringify({ index: { _id: dayStateId(m.day), if_seq_no: version.seqNo, if_primary_term: version.primaryTerm } }),
        JSON.stringify({ ...dirty, restore: kept }),
      );
    } else {
      lines.push(JSON.stringify({ index: { _id: dayStateId(m.day) } }), JSON.stringify(dirty));
    }
  }
  return lines.join("\n") + "\n";
}

/** The marks of one write (a push or a delete): `add` before any of its points is sent, `end` after its last answer. */
export class WriteMarks {
  private readonly held: DayMark[] = [];
  private readonly days = new Set<number>();

  constructor(private readonly registry: DayMarks) {}

  /** Marks the days not marked yet by this write; returns once every mark is held. */
  async add(days: Iterable<number>, now = Date.now()): Promise<void> {
    const todo = [...new Set(days)].filter((d) => !this.days.has(d));
    if (todo.length === 0) return;
    const marks = await this.registry.join(todo, now);
    for (const m of marks) {
      this.days.add(m.day);
      this.held.push(m);
    }
  }

  /** Leaves the marks; they are settled once no write holds them (never throws). */
  async end(outcome: WriteOutcome): Promise<void> {
    const held = this.held.splice(0);
    await this.registry.leave(held, outcome);
  }
}
