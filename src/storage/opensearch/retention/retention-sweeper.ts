import { randomUUID } from "node:crypto";
import type { Logger } from "../../../logger.js";
import type { SweepSummary } from "../../backend.js";
import type { ClusterClient } from "../client.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Partitions } from "../partitions.js";

interface LeaseDoc {
  holder: string;
  expires_at: number;
}

/** A lease document's version, for compare-and-set. */
interface LeaseVersion {
  readonly seqNo: number;
  readonly primaryTerm: number;
}

interface WriteAnswer {
  _seq_no?: number;
  _primary_term?: number;
}

/**
 * The shortest lease, whatever the interval: a step of a sweep (a delete on a loaded cluster) may take
 * seconds, and the lease must outlast the time between two renewals. A holder that dies blocks other
 * instances' sweeps this long at most.
 */
const MIN_LEASE_MS = 60_000;

const versionOf = (w: WriteAnswer): LeaseVersion => ({ seqNo: w._seq_no!, primaryTerm: w._primary_term! });

interface GetLease {
  found: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: LeaseDoc;
}

/**
 * Deletes expired partitions on clusters without a lifecycle plugin. Several service instances may run
 * one each: a lease document, taken with create / compare-and-set on sequence numbers, lets one sweep at
 * a time, and deleting an index that is already gone is a no-op, so a partition is deleted once.
 */
export class RetentionSweeper {
  readonly instanceId = randomUUID();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly lifecycle: Lifecycle,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    /** How long a partition stays out of the alias before it is deleted: longer than any read on it. */
    private readonly graceMs: number,
    /** The replica settings of the locks index, the partitions' own (templates.ts replicaSettings). */
    private readonly replicas: Record<string, string | number> = { auto_expand_replicas: "0-1" },
  ) {}

  private leaseIndexReady = false;

  /**
   * Creates the locks index with one shard and the partitions' replica settings: created implicitly by
   * its first write, it got the cluster's default of one replica, and a single-node cluster turned yellow.
   */
  private async ensureLeaseIndex(): Promise<void> {
    if (this.leaseIndexReady) return;
    const res = await this.client.request<{ error?: { type?: string } }>(
      { method: "PUT", path: `/${this.leaseIndex}`, body: { settings: { index: { number_of_shards: 1, ...this.replicas } } } },
      [400],
    );
    if (res.status === 400) {
      if (res.body.error?.type !== "resource_already_exists_exception")
        throw new Error(`could not create ${this.leaseIndex}: ${JSON.stringify(res.body)}`);
      // Made by an earlier release with the cluster's default replicas, or by another instance just now.
      await this.client.request({ method: "PUT", path: `/${this.leaseIndex}/_settings`, body: { index: this.replicas } });
    }
    this.leaseIndexReady = true;
  }

  private get leaseIndex(): string {
    return `${this.partitions.prefix}-locks`;
  }

  /** Takes the lease (for one interval, or MIN_LEASE_MS if longer): its version (for renewals), or undefined when another live instance holds it. */
  private async takeLease(now: number): Promise<LeaseVersion | undefined> {
    await this.ensureLeaseIndex();
    const path = this.leasePath;
    const mine: LeaseDoc = { holder: this.instanceId, expires_at: now + this.leaseMs };
    const created = await this.client.request<WriteAnswer>(
      { method: "PUT", path, querystring: { op_type: "create", refresh: "true" }, body: mine },
      [409],
    );
    if (created.status !== 409) return versionOf(created.body);
    const current = await this.client.request<GetLease>({ method: "GET", path }, [404]);
    const lease = current.body._source;
    if (!current.body.found || !lease) return undefined;
    if (lease.holder !== this.instanceId && lease.expires_at > now) return undefined;
    return this.renew({ seqNo: current.body._seq_no!, primaryTerm: current.body._primary_term! }, now);
  }

  /**
   * Extends a held lease from `now` (by one interval, or MIN_LEASE_MS if longer), by compare-and-set: undefined when another instance
   * took it meanwhile. Renewed before every step of a sweep, so a sweep that outlasts its interval keeps
   * the lease and no other instance sweeps beside it.
   */
  private async renew(version: LeaseVersion, now: number): Promise<LeaseVersion | undefined> {
    const mine: LeaseDoc = { holder: this.instanceId, expires_at: now + this.leaseMs };
    const taken = await this.client.request<WriteAnswer>(
      {
        method: "PUT",
        path: this.leasePath,
        querystring: { if_seq_no: version.seqNo, if_primary_term: version.primaryTerm, refresh: "true" },
        body: mine,
      },
      [409],
    );
    return taken.status === 409 ? undefined : versionOf(taken.body);
  }

  private get leaseMs(): number {
    return Math.max(this.intervalMs, MIN_LEASE_MS);
  }

  private get leasePath(): string {
    return `/${this.leaseIndex}/_doc/retention-sweeper`;
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
    let lease = await this.takeLease(now);
    if (!lease) return { leader: false, deleted: [], kept: 0 };
    const startedAt = Date.now();
    // The sweep's clock: `now` (which tests set ahead) plus the time the sweep has taken.
    const clock = () => now + (Date.now() - startedAt);
    /** Renews the lease before a step; false when it was lost, and the sweep stops there. */
    const stillLeader = async (): Promise<boolean> => {
      lease = lease && (await this.renew(lease, clock()));
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
