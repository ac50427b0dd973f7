import { randomUUID } from "node:crypto";
import type { Logger } from "../../logger.js";
import type { ClusterClient } from "./client.js";
import type { Lifecycle } from "./lifecycle.js";
import type { Partitions } from "./partitions.js";

interface LeaseDoc {
  holder: string;
  expires_at: number;
}

interface GetLease {
  found: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: LeaseDoc;
}

export interface SweepResult {
  /** false: another instance holds the lease; this one did nothing. */
  readonly leader: boolean;
  readonly deleted: readonly string[];
  readonly kept: number;
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
  ) {}

  private get leaseIndex(): string {
    return `${this.partitions.prefix}-locks`;
  }

  /** Takes the lease for one interval, or returns false when another live instance holds it. */
  async acquireLease(now = Date.now()): Promise<boolean> {
    const path = `/${this.leaseIndex}/_doc/retention-sweeper`;
    const mine: LeaseDoc = { holder: this.instanceId, expires_at: now + this.intervalMs };
    const created = await this.client.request({ method: "PUT", path, querystring: { op_type: "create", refresh: "true" }, body: mine }, [409]);
    if (created.status !== 409) return true;
    const current = await this.client.request<GetLease>({ method: "GET", path }, [404]);
    const lease = current.body._source;
    if (!current.body.found || !lease) return false;
    if (lease.holder !== this.instanceId && lease.expires_at > now) return false;
    const taken = await this.client.request(
      { method: "PUT", path, querystring: { if_seq_no: current.body._seq_no!, if_primary_term: current.body._primary_term!, refresh: "true" }, body: mine },
      [409],
    );
    return taken.status !== 409;
  }

  async sweepOnce(now = Date.now()): Promise<SweepResult> {
    if (!(await this.acquireLease(now))) return { leader: false, deleted: [], kept: 0 };
    const res = await this.client.request<{ index: string }[]>(
      { method: "GET", path: `/_cat/indices/${this.partitions.pattern}`, querystring: { format: "json", h: "index", expand_wildcards: "open" } },
      [404],
    );
    const indices = res.status === 404 ? [] : res.body.map((r) => r.index);
    const deleted: string[] = [];
    for (const index of indices.sort()) {
      const expires = this.lifecycle.expiresAt(index);
      if (expires === undefined || expires > now) continue;
      await this.client.request({ method: "DELETE", path: `/${index}` }, [404]);
      deleted.push(index);
      this.logger.info("retention: partition deleted", { index, expired_at: new Date(expires).toISOString(), by: this.instanceId });
    }
    return { leader: true, deleted, kept: indices.length - deleted.length };
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
