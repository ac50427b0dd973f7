/**
 * CloudKitty's `push` on the engines: bulk requests, retried items, and an exact account of every
 * point.
 */
import { backoffMs, sleep } from "../../backoff.js";
import { retryableStatus } from "./retry-policy.js";
import type { StorageConfig } from "../../config.js";
import { BackendUnavailableError, refusedWhole } from "../../errors.js";
import type { Logger } from "../../logger.js";
import {
  NO_OBSERVER,
  type BulkOutcome,
  type PointFailure,
  PushInterruptedError,
  type PushOptions,
  type PushResult,
  type StorageObserver,
  type WriteStats,
} from "../backend.js";
import { pointsWithIndex, type DataFrame } from "../dataframe.js";
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";
import type { Refresher } from "./refresher.js";
import { PointChunks, type PendingPoint, type PointRef } from "./point-chunks.js";
import { dayOf } from "./rollups/rollup-calendar.js";
import type { WriteMarks } from "./rollups/write-marks.js";

export function newWriterStats(): WriteStats {
  return { stored: 0, duplicates: 0, failed: 0, retries: 0, bulkRequests: 0 };
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { reason?: string } };
}

interface BulkResponse {
  errors: boolean;
  items: Record<string, BulkItemResult>[];
}

/** A push that fits in one bulk request is split among the workers only into chunks this large or larger. */
const SPLIT_MIN_DOCS = 250;

/**
 * Bulk requests of one chunk that may go unanswered (a timeout, a dropped connection) before the chunk
 * gives up. A request with no answer may still be carried out: before anything is sent again the points
 * are looked up, and only those not found are sent, once. A slow cluster gets at most twice the points
 * it was sent, not one copy per retry.
 */
const UNANSWERED_BUDGET = 2;

function describe(item: BulkItemResult): string {
  const e = item.error;
  if (!e) return `status ${item.status}`;
  return [e.type, e.reason, e.caused_by?.reason].filter(Boolean).join(": ");
}

/** What the writer asks of the partition scheme before writing: whether it may, and that the partition exists. */
export interface PartitionGate {
  /** Why points of this partition would not be kept (retention has already passed it), or undefined. */
  refusal(index: string, now: number): string | undefined;
  /** Creates the partition before its first write. */
  ensure(index: string): Promise<void>;
}

const OPEN_GATE: PartitionGate = { refusal: () => undefined, ensure: async () => {} };

/** Where a write marks the days it changes before it sends a point (rollups/write-marks.ts); none without marks. */
export type MarksFactory = () => WriteMarks | undefined;

/** What a push has done so far. */
interface Outcome {
  stored: number;
  duplicates: number;
  failed: PointFailure[];
  unknown: PointFailure[];
}

const failureOf = (p: PointRef, status: number, reason: string): PointFailure => ({
  dataframe: p.dataframe,
  type: p.point.type,
  index: p.index,
  status,
  reason,
});

/**
 * Writes points with `_bulk` `create` actions in bounded chunks. `create` with a deterministic id makes
 * a repeated point a 409 (counted as a duplicate), never a second document. Every item of every bulk
 * response is checked: 429/5xx items are retried with backoff, the rest are reported with their reason.
 */
export class PointWriter {
  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly bulk: StorageConfig["bulk"],
    private readonly logger: Logger,
    /** Refreshes the partitions a push with refresh=true wrote. */
    private readonly refresher: Pick<Refresher, "refresh">,
    /** Refuses points past the retention and creates a partition (dated by its data) before its first write. */
    private readonly gate: PartitionGate = OPEN_GATE,
    private readonly observer: StorageObserver = NO_OBSERVER,
    private readonly newMarks: MarksFactory = () => undefined,
    readonly stats: WriteStats = newWriterStats(),
  ) {}

  /**
   * Writes every point, or says exactly which were not: `stored`/`duplicates` counts, `failed` (known not
   * stored) and `unknown` (sent in a request that got no answer). When the cluster fails for good, every
   * worker is stopped and has returned before push does (PushInterruptedError, carrying the same
   * accounting): no request of the push is sent after it answers, but a request that got no answer may
   * still be carried out by the cluster, so `unknown` points may appear later.
   */
  async push(dataframes: readonly DataFrame[], options: PushOptions = {}): Promise<PushResult> {
    const result: Outcome = { stored: 0, duplicates: 0, failed: [], unknown: [] };
    // A point that retention would delete is refused now, never acknowledged and then swept.
    const now = Date.now();
    const refusals = new Map<string, string | undefined>();
    const accepted: PointRef[] = [];
    dataframes.forEach((df, dataframe) => {
      const partition = this.partitions.partitionOf(df);
      if (!refusals.has(partition)) refusals.set(partition, this.gate.refusal(partition, now));
      const reason = refusals.get(partition);
      for (const [point, index] of pointsWithIndex(df)) {
        const ref = { dataframe, point, index, partition };
        if (reason === undefined) accepted.push(ref);
        else result.failed.push(failureOf(ref, 422, reason));
      }
    });
    const points = accepted.length + result.failed.length;
    const touched = [...new Set(accepted.map((r) => r.partition))];
    const marks = accepted.length > 0 ? this.newMarks() : undefined;
    let step = "a partition could not be created";
    try {
      for (const index of touched) await this.gate.ensure(index);
      step = "the days it changes could not be marked for the rollups";
      const frames = new Set(accepted.map((r) => r.dataframe));
      await marks?.add([...frames].map((i) => dayOf(dataframes[i]!.begin)));
    } catch (err) {
      // No point was sent: every one is known not stored.
      const reason = `not sent: ${step}: ${(err as Error).message}`;
      for (const ref of accepted) result.failed.push(failureOf(ref, (err as { status?: number }).status ?? 503, reason));
      this.count(result);
      throw new PushInterruptedError(
        `${(err as Error).message}; of ${points} points, none is stored. Nothing of this push was written; pushing it again is safe`,
        { points, ...result },
        err instanceof BackendUnavailableError,
        { cause: err },
      );
    }
    const refresh = options.refresh ?? false;
    const source = new PointChunks(dataframes, accepted, this.chunkLimits(accepted.length));
    let interrupted: Error | undefined;
    const stopped = () => interrupted !== undefined;
    // Each worker prepares its chunk when it takes it, so the next chunk is prepared while the cluster
    // writes the one before, and only the chunks in flight are held in memory.
    const worker = async () => {
      while (!stopped() && !source.done) {
        const chunk = source.take();
        try {
          await this.writeChunk(chunk, result, refresh === "wait_for", stopped);
        } catch (err) {
          interrupted ??= err instanceof Error ? err : new Error(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.bulk.concurrency, accepted.length) }, worker));
    await marks?.end({ changed: result.stored > 0 || result.unknown.length > 0, settled: result.unknown.length === 0 });
    if (interrupted) {
      // Points no worker took were never sent: known not stored.
      for (const ref of source.remaining()) result.failed.push(failureOf(ref, 503, "not sent: the push stopped when the cluster failed"));
      this.count(result);
      throw new PushInterruptedError(
        `${interrupted.message}; of ${points} points, ${result.stored + result.duplicates} are stored, ${result.failed.length} are not, and ${result.unknown.length} are unknown (sent, no answer). ` +
          (result.unknown.length > 0
            ? "The cluster may still write the unknown points after this answer: push the same dataframes again (nothing is stored twice) to settle them, and do not delete and re-rate their window until a push of them has succeeded"
            : "Nothing more of this push will be written; pushing it again is safe: nothing is stored twice"),
        { points, ...result },
        interrupted instanceof BackendUnavailableError,
        { cause: interrupted },
      );
    }
    this.count(result);
    if (refresh === true && touched.length > 0) {
      // For readers outside ratestore: reads through it refresh before they search (Refresher). The points
      // are stored whatever happens here: a push sent again after a failed refresh stores nothing twice.
      await this.refresher.refresh(touched, "push");
    }
    return { points, ...result };
  }

  /**
   * Chunks of `maxDocs`; a push that fits in one is split among the workers (chunks of at least
   * SPLIT_MIN_DOCS), so that the cluster writes them at once and the second is prepared meanwhile
   * (BENCHMARKS.md, *The figures behind the code*: SPLIT_MIN_DOCS).
   */
  private chunkLimits(points: number): { docs: number; bytes: number } {
    const share = Math.ceil(points / this.bulk.concurrency);
    const docs = points > this.bulk.maxDocs ? this.bulk.maxDocs : share >= SPLIT_MIN_DOCS ? share : points;
    return { docs: Math.max(1, docs), bytes: this.bulk.maxBytes };
  }

  /** The points that the cluster does not hold (a realtime `_mget` by id): after a request with no answer, those that may be sent again. */
  private async missing(points: readonly PendingPoint[]): Promise<PendingPoint[]> {
    const res = await this.client.request<{ docs: { found?: boolean }[] }>({
      method: "POST",
      path: "/_mget",
      querystring: { _source: false, filter_path: "docs.found" },
      body: { docs: points.map((p) => ({ _index: p.partition, _id: p.id })) },
    });
    return points.filter((_, i) => res.body.docs[i]?.found !== true);
  }

  private count(result: Outcome): void {
    this.stats.stored += result.stored;
    this.stats.duplicates += result.duplicates;
    this.stats.failed += result.failed.length + result.unknown.length;
  }

  /**
   * One chunk, with its transient failures retried. Throws when the cluster fails for good, after putting
   * the points of the unanswered request in `unknown`; stops early (points awaiting a retry are known
   * not stored) when another chunk of the push has failed.
   */
  private async writeChunk(
    chunk: readonly PendingPoint[],
    result: Outcome,
    waitForRefresh: boolean,
    stopped: () => boolean,
  ): Promise<void> {
    let todo = chunk;
    let unanswered = 0;
    for (let attempt = 0; ; attempt++) {
      let response: BulkResponse;
      const started = performance.now();
      const observe = (outcome: BulkOutcome) => this.observer.bulkRequest((performance.now() - started) / 1000, todo.length, outcome);
      try {
        this.stats.bulkRequests++;
        // Only what is checked comes back: a status per item, and the error of those that failed.
        const res = await this.client.request<BulkResponse>({
          method: "POST",
          path: "/_bulk",
          querystring: { filter_path: "errors,items.*.status,items.*.error", ...(waitForRefresh ? { refresh: "wait_for" } : {}) },
          bulkBody: todo.map((p) => p.lines).join(""),
        });
        response = res.body;
      } catch (err) {
        observe("failed");
        const message = (err as Error).message;
        if (refusedWhole(err)) {
          // The cluster answered: nothing of the request was written (a read-only block, an overload).
          if (err instanceof BackendUnavailableError && attempt < this.bulk.retries && !stopped()) {
            this.stats.retries++;
            this.logger.warn("bulk request refused; retrying", { attempt: attempt + 1, points: todo.length, error: message });
            await sleep(backoffMs(attempt));
            if (!stopped()) continue;
          }
          const status = (err as { status?: number }).status!;
          for (const p of todo) result.failed.push(failureOf(p, status, `not stored: ${message}`));
          throw err;
        }
        // No answer: the request may still be carried out, now or later.
        unanswered++;
        if (unanswered < UNANSWERED_BUDGET && !stopped()) {
          this.stats.retries++;
          this.logger.warn("bulk request got no answer; looking its points up before sending any again", {
            attempt: attempt + 1,
            points: todo.length,
            error: message,
          });
          await sleep(backoffMs(attempt + 3));
          const missing = stopped() ? undefined : await this.missing(todo).catch(() => undefined);
          if (missing) {
            result.stored += todo.length - missing.length;
            if (missing.length === 0) return;
            todo = missing;
            continue;
          }
        }
        for (const p of todo)
          result.unknown.push(
            failureOf(p, err instanceof BackendUnavailableError ? 503 : 502, `unknown: ${message}; the cluster may still write it`),
          );
        throw err;
      }
      const retry: PendingPoint[] = [];
      let lastRetryReason = "";
      response.items.forEach((entry, i) => {
        const item = Object.values(entry)[0]!;
        const point = todo[i]!;
        if (item.status === 201 || item.status === 200) result.stored++;
        else if (item.status === 409) result.duplicates++;
        else if (retryableStatus(item.status) && attempt < this.bulk.retries) {
          retry.push(point);
          lastRetryReason = describe(item);
        } else {
          result.failed.push(failureOf(point, item.status, describe(item)));
        }
      });
      observe(retry.length === 0 ? "ok" : "items_retried");
      if (retry.length === 0) return;
      if (stopped()) {
        for (const p of retry)
          result.failed.push(failureOf(p, 503, `not stored: ${lastRetryReason}; the push stopped when the cluster failed`));
        return;
      }
      this.stats.retries++;
      this.logger.warn("bulk items rejected as transient; retrying them", {
        attempt: attempt + 1,
        points: retry.length,
        reason: lastRetryReason,
      });
      await sleep(backoffMs(attempt));
      todo = retry;
    }
  }
}
