/**
 * A lease held by one service instance at a time, so that background work runs once across instances
 * (the retention sweep, the rollup builder): a document in the locks index, taken with `create` and
 * renewed by compare-and-set on its sequence number.
 */
import { randomUUID } from "node:crypto";
import type { ClusterClient } from "./client.js";
import { createServiceIndex } from "./service-index.js";

interface LeaseDoc {
  holder: string;
  expires_at: number;
}

/** A lease document's version, for compare-and-set. */
export interface LeaseVersion {
  readonly seqNo: number;
  readonly primaryTerm: number;
}

interface WriteAnswer {
  _seq_no?: number;
  _primary_term?: number;
}

interface GetLease {
  found: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: LeaseDoc;
}

/**
 * The shortest lease, whatever the interval: a step of background work (a delete on a loaded cluster)
 * may take seconds, and the lease must outlast the time between two renewals. A holder that dies blocks
 * other instances this long at most.
 */
const MIN_LEASE_MS = 60_000;

const versionOf = (w: WriteAnswer): LeaseVersion => ({ seqNo: w._seq_no!, primaryTerm: w._primary_term! });

/** The locks index (`<prefix>-locks`): one shard, the partitions' replica settings, created once per process. */
export class LocksIndex {
  private ready = false;

  constructor(
    private readonly client: ClusterClient,
    readonly name: string,
    /** The partitions' replica settings (templates.ts replicaSettings). */
    private readonly replicas: Record<string, string | number>,
  ) {}

  /**
   * Creates the index with one shard and the partitions' replica settings: created implicitly by its
   * first write, it got the cluster's default of one replica, and a single-node cluster turned yellow.
   */
  async ensure(): Promise<void> {
    if (this.ready) return;
    if (!(await createServiceIndex(this.client, this.name, this.replicas))) {
      // Made by an earlier release with the cluster's default replicas, or by another instance just now.
      await this.client.request({ method: "PUT", path: `/${this.name}/_settings`, body: { index: this.replicas } });
    }
    this.ready = true;
  }
}

export class Lease {
  /** This instance, as the lease document names its holder. */
  readonly holder = randomUUID();

  constructor(
    private readonly client: ClusterClient,
    private readonly locks: LocksIndex,
    /** The lease document's id in the locks index. */
    private readonly id: string,
    private readonly intervalMs: number,
  ) {}

  private get path(): string {
    return `/${this.locks.name}/_doc/${this.id}`;
  }

  private get durationMs(): number {
    return Math.max(this.intervalMs, MIN_LEASE_MS);
  }

  /** Takes the lease from `now`: its version (for renewals), or undefined when another live instance holds it. */
  async take(now: number): Promise<LeaseVersion | undefined> {
    await this.locks.ensure();
    const mine: LeaseDoc = { holder: this.holder, expires_at: now + this.durationMs };
    const created = await this.client.request<WriteAnswer>(
      { method: "PUT", path: this.path, querystring: { op_type: "create", refresh: "true" }, body: mine },
      [409],
    );
    if (created.status !== 409) return versionOf(created.body);
    const current = await this.client.request<GetLease>({ method: "GET", path: this.path }, [404]);
    const lease = current.body._source;
    if (!current.body.found || !lease) return undefined;
    if (lease.holder !== this.holder && lease.expires_at > now) return undefined;
    return this.renew({ seqNo: current.body._seq_no!, primaryTerm: current.body._primary_term! }, now);
  }

  /**
   * Extends a held lease from `now` by compare-and-set: undefined when another instance took it
   * meanwhile. Renewed before every step of the work, so work that outlasts its interval keeps the
   * lease and no other instance works beside it.
   */
  async renew(version: LeaseVersion, now: number): Promise<LeaseVersion | undefined> {
    const mine: LeaseDoc = { holder: this.holder, expires_at: now + this.durationMs };
    const taken = await this.client.request<WriteAnswer>(
      {
        method: "PUT",
        path: this.path,
        querystring: { if_seq_no: version.seqNo, if_primary_term: version.primaryTerm, refresh: "true" },
        body: mine,
      },
      [409],
    );
    return taken.status === 409 ? undefined : versionOf(taken.body);
  }
}
