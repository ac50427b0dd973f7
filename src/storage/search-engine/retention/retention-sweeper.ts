/** The service's own retention: a sweep under a lease that detaches, then deletes, expired partitions. */
import type { Logger } from "../../../logger.js";
import type { SweepSummary } from "../../backend.js";
import type { ClusterClient } from "../client.js";
import { Lease, type LocksIndex } from "../lease.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Partitions } from "../partitions.js";

/**
 * Deletes expired partitions on clusters without a lifecycle plugin. Several service instances may run
 * one each: a lease document, taken with create / compare-and-set on sequence numbers, lets one sweep at
 * a time, and deleting an index that is already gone is a no-op, so a partition is deleted once.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private readonly lease: Lease;

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly lifecycle: Lifecycle,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    /** How long a partition stays out of the alias before it is deleted: longer than any read on it. */
    private readonly graceMs: number,
    /** Where the lease and the detach records live. */
    private readonly locks: LocksIndex,
  ) {
    this.lease = new Lease(client, locks, "retention-sweeper", intervalMs);
  }

  /** This instance, as the lease names its holder. */
  get instanceId(): string {
    return this.lease.holder;
  }

  private get leaseIndex(): string {
    return this.locks.name;
  }

  /**
   * Deletes expired partitions in two steps, so that no read ever fails on one: an expired partition is
   * first taken out of the read alias, and deleted only once `graceMs` has passed since, by which time
   * every search that resolved the alias before (and every point-in-time on it) has finished.
   */
  async sweepOnce(now = Date.now()): Promise<SweepSummary> {
    // One sweep at a time in this process too: a sweep that outlasts its interval is not joined by a
    // second one of the same holder (which the lease would let through).
    if (this.sweeping) return { leader: false, deleted: [], kept: 0 };
    this.sweeping = true;
    try {
      return await this.sweepHoldingLease(now);
    } finally {
      this.sweeping = false;
    }
  }

  private sweeping = false;

  private async sweepHoldingLease(now: number): Promise<SweepSummary> {
    let lease = await this.lease.take(now);
    if (!lease) return { leader: false, deleted: [], kept: 0 };
    const startedAt = Date.now();
    // The sweep's clock: `now` (which tests set ahead) plus the time the sweep has taken.
    const clock = () => now + (Date.now() - startedAt);
    /** Renews the lease before a step; false when it was lost, and the sweep stops there. */
    const stillLeader = async (): Promise<boolean> => {
      lease = lease && (await this.lease.renew(lease, clock()));
      if (!lease) this.logger.warn("retention: the sweep lease was taken by another instance; this sweep stops", { by: this.instanceId });
      return lease !== undefined;
    };
    const res = await this.client.request<{ index: string }[]>(
      {
        method: "GET",
        path: `/_cat/indices/${this.partitions.pattern}`,
        querystring: { format: "json", h: "index", expand_wildcards: "open" },
      },
      [404],
    );
    const indices = res.status === 404 ? [] : res.body.map((r) => r.index);
    const aliased = await this.aliasedPartitions();
    const deleted: string[] = [];
    const detached: string[] = [];
    for (const index of indices.sort()) {
      const expires = this.lifecycle.expiresAt(index);
      if (expires === undefined || expires > now) continue;
      if (!(await stillLeader())) break;
      // Releases before points were placed by their period's end put a long period in the partition of
      // its begin: such a partition is kept until its last point is past the retention too.
      const last = await this.latestEnd(index);
      if (last !== undefined && this.lifecycle.expiryOf(last) > now) continue;
      if (aliased.has(index)) {
        await this.detach(index, now);
        detached.push(index);
        this.logger.info("retention: partition taken out of the read alias; deleted after the grace period", {
          index,
          grace_seconds: this.graceMs / 1000,
        });
        if (this.graceMs > 0) continue;
      } else {
        const since = await this.detachedAt(index);
        if (since !== undefined && since + this.graceMs > now) continue;
      }
      await this.client.request({ method: "DELETE", path: `/${index}` }, [404]);
      await this.client.request({ method: "DELETE", path: `/${this.leaseIndex}/_doc/${this.detachId(index)}` }, [404]);
      deleted.push(index);
      this.logger.info("retention: partition deleted", { index, expired_at: new Date(expires).toISOString(), by: this.instanceId });
    }
    return { leader: true, deleted, detached, kept: indices.length - deleted.length };
  }

  /** The latest period end among a partition's points (undefined when it has none). */
  private async latestEnd(index: string): Promise<number | undefined> {
    const res = await this.client.request<{ aggregations?: { last?: { value?: number | null } } }>(
      { method: "POST", path: `/${index}/_search`, body: { size: 0, track_total_hits: false, aggs: { last: { max: { field: "end" } } } } },
      [404],
    );
    return res.body.aggregations?.last?.value ?? undefined;
  }

  private detachId(index: string): string {
    return `detached-${index}`;
  }

  private async aliasedPartitions(): Promise<Set<string>> {
    const res = await this.client.request<Record<string, unknown>>(
      { method: "GET", path: `/${this.partitions.pattern}/_alias/${this.partitions.alias}` },
      [404],
    );
    return new Set(res.status === 404 ? [] : Object.keys(res.body));
  }

  /** Takes a partition out of the read alias and records when, for the grace period. */
  private async detach(index: string, now: number): Promise<void> {
    await this.client.request({
      method: "PUT",
      path: `/${this.leaseIndex}/_doc/${this.detachId(index)}`,
      querystring: { refresh: "true" },
      body: { index, detached_at: now },
    });
    await this.client.request(
      { method: "POST", path: "/_aliases", body: { actions: [{ remove: { index, alias: this.partitions.alias } }] } },
      [404],
    );
  }

  /** When the sweeper took a partition out of the alias; undefined when it did not (an index it never served). */
  private async detachedAt(index: string): Promise<number | undefined> {
    const res = await this.client.request<{ found?: boolean; _source?: { detached_at?: number } }>(
      { method: "GET", path: `/${this.leaseIndex}/_doc/${this.detachId(index)}` },
      [404],
    );
    return res.body._source?.detached_at;
  }

  start(): void {
    const run = () => {
      this.sweepOnce().catch((err: unknown) => this.logger.warn("retention sweep failed; will retry", { error: (err as Error).message }));
    };
    setTimeout(run, 5_000).unref();
    this.timer = setInterval(run, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
