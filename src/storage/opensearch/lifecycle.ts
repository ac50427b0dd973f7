import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { StorageConfig } from "../../config.js";
import { ConfigError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { PartitionInfo } from "../backend.js";
import type { ClusterProfile } from "../cluster-profile.js";
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";
import { indexTemplatesDir } from "../../project-files.js";
import type { PartitionGate } from "./writer.js";

/**
 * Retention. Age is the data's age, not the index's: every partition is created by the service dated by
 * the end of its period (`index.creation_date` where OpenSearch accepts it, ILM's
 * `index.lifecycle.origination_date` on Elasticsearch), so a partition created today for last year's
 * backfilled data is already a year old. Where the cluster has a lifecycle engine (ISM, ILM), a policy
 * deletes a partition once that age passes the retention; where it has none, or cannot date partitions,
 * the service's sweeper (sweeper.ts) does the same from the partitions' names.
 */
export type RetentionMechanism = "ism" | "ilm" | "ism+sweeper" | "sweeper" | "none";

const IsmPolicyFileSchema = z.object({
  version: z.number().int().positive(),
  policy: z.object({ description: z.string(), default_state: z.string(), states: z.array(z.record(z.string(), z.unknown())) }),
});

const IlmPolicyFileSchema = z.object({
  version: z.number().int().positive(),
  policy: z.object({
    _meta: z.record(z.string(), z.unknown()),
    phases: z.record(z.string(), z.object({ min_age: z.string(), actions: z.record(z.string(), z.unknown()) })),
  }),
});

interface IsmPolicyResponse {
  _seq_no: number;
  _primary_term: number;
  policy: { policy: { description?: string; states: { name: string; transitions?: { conditions?: { min_index_age?: string } }[] }[] } };
}

type IlmPolicyResponse = Record<string, { policy?: { _meta?: { ratestore?: string } } }>;

function policyFile(dir: string, name: string): unknown {
  return JSON.parse(readFileSync(join(indexTemplatesDir(), dir, name), "utf8"));
}

/** The ISM policy for a retention, as sent to `PUT _plugins/_ism/policies/<id>` (pure: pinned by golden fixtures). */
export function ismPolicyBody(retentionHours: number): { policy: Record<string, unknown> } {
  const file = IsmPolicyFileSchema.parse(policyFile("opensearch", "retention.ism-policy.json"));
  const age = `${retentionHours}h`;
  const states = file.policy.states.map((s) =>
    s.name === file.policy.default_state
      ? { ...s, transitions: ((s.transitions as { conditions?: Record<string, unknown> }[] | undefined) ?? []).map((t) => ({ ...t, conditions: { ...(t.conditions ?? {}), min_index_age: age } })) }
      : s,
  );
  return { policy: { ...file.policy, description: `${file.policy.description} [ratestore policy v${file.version}, retention ${age}]`, states } };
}

/** The ILM policy for a retention, as sent to `PUT _ilm/policy/<id>` (pure: pinned by golden fixtures). */
export function ilmPolicyBody(retentionHours: number): { policy: Record<string, unknown> } {
  const file = IlmPolicyFileSchema.parse(policyFile("elasticsearch", "retention.ilm-policy.json"));
  const age = `${retentionHours}h`;
  const phases = Object.fromEntries(Object.entries(file.policy.phases).map(([name, phase]) => [name, name === "delete" ? { ...phase, min_age: age } : phase]));
  return { policy: { _meta: { ...file.policy._meta, ratestore: `policy v${file.version}, retention ${age}` }, phases } };
}

/**
 * The settings a partition is created with: its data's date and its policy, per the cluster profile
 * (pure: pinned by golden fixtures).
 */
export function partitionSettings(profile: ClusterProfile, mechanism: RetentionMechanism, policyId: string, periodEnd: number): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (profile.backdating === "creation_date") settings["index.creation_date"] = periodEnd;
  if (mechanism === "ilm") {
    settings["index.lifecycle.name"] = policyId;
    settings["index.lifecycle.origination_date"] = periodEnd;
  }
  return settings;
}

export class Lifecycle implements PartitionGate {
  private mechanism: RetentionMechanism | undefined;
  private readonly known = new Set<string>();

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly config: StorageConfig,
    private readonly profile: ClusterProfile,
    private readonly logger: Logger,
  ) {}

  get policyId(): string {
    return `${this.config.indexPrefix}-retention`;
  }

  get active(): RetentionMechanism {
    // Where partitions cannot be dated by their data, ISM ages backfilled partitions from their real
    // creation, too late: the sweeper, which goes by partition names, runs beside it.
    if (this.mechanism === "ism" && this.profile.backdating === "none") return "ism+sweeper";
    return this.mechanism ?? "none";
  }

  /** Whether the service's sweeper has work to do on this cluster. */
  get sweeperNeeded(): boolean {
    return this.active === "sweeper" || this.active === "ism+sweeper";
  }

  /** Chooses the mechanism from the configuration and the profile, installs or updates the policy, and says which is active. */
  async init(): Promise<RetentionMechanism> {
    const wanted = this.config.retentionMechanism;
    const offered = this.profile.lifecycle;
    if (wanted === "none" || wanted === "sweeper") this.mechanism = wanted;
    else if (wanted === "auto") this.mechanism = offered === "none" ? "sweeper" : offered;
    else if (wanted === offered) this.mechanism = wanted;
    else throw new ConfigError(`RATESTORE_RETENTION_MECHANISM=${wanted} but this cluster's lifecycle engine is ${offered} (cluster profile)`);
    if (this.mechanism === "ism") await this.installIsmPolicy();
    if (this.mechanism === "ilm") await this.installIlmPolicy();
    this.logger.info("retention", { mechanism: this.active, retention_hours: this.config.retentionHours, ...(this.mechanism === "ism" || this.mechanism === "ilm" ? { policy: this.policyId } : {}) });
    return this.mechanism;
  }

  private async installIsmPolicy(): Promise<void> {
    const body = ismPolicyBody(this.config.retentionHours);
    const path = `/_plugins/_ism/policies/${this.policyId}`;
    const current = await this.client.request<IsmPolicyResponse>({ method: "GET", path }, [404]);
    if (current.status === 404) {
      await this.client.request({ method: "PUT", path, body }, [409]);
      this.logger.info("ISM policy created", { policy: this.policyId });
    } else if (current.body.policy.policy.description !== (body.policy.description as string)) {
      await this.client.request({ method: "PUT", path, querystring: { if_seq_no: current.body._seq_no, if_primary_term: current.body._primary_term }, body }, [409]);
      // Managed partitions keep the policy version they started with until they are moved onto the new one.
      await this.client.request({ method: "POST", path: `/_plugins/_ism/change_policy/${this.partitions.pattern}`, body: { policy_id: this.policyId } }, [404]);
      this.logger.info("ISM policy updated; existing partitions moved onto it", { policy: this.policyId, retention_hours: this.config.retentionHours });
    }
  }

  private async installIlmPolicy(): Promise<void> {
    const body = ilmPolicyBody(this.config.retentionHours);
    const path = `/_ilm/policy/${this.policyId}`;
    const current = await this.client.request<IlmPolicyResponse>({ method: "GET", path }, [404]);
    // ILM applies a changed policy to the partitions already on it, from their current phase.
    if (current.status === 404 || current.body[this.policyId]?.policy?._meta?.ratestore !== (body.policy._meta as { ratestore: string }).ratestore) {
      await this.client.request({ method: "PUT", path, body });
      this.logger.info(current.status === 404 ? "ILM policy created" : "ILM policy updated", { policy: this.policyId, retention_hours: this.config.retentionHours });
    }
  }

  /**
   * Why a partition may not be written: retention deletes it (or already has) because all its data is
   * older than the retention. Such points are refused, never acknowledged and then deleted.
   */
  refusal(index: string, now: number): string | undefined {
    if (this.active === "none") return undefined;
    const expires = this.expiresAt(index);
    if (expires === undefined || expires > now) return undefined;
    return (
      `the period is past the retention of ${this.config.retentionHours} h: its partition ${index} expired at ${new Date(expires).toISOString()} ` +
      `and retention deletes it; raise RATESTORE_RETENTION_HOURS or set RATESTORE_RETENTION_MECHANISM=none to keep such data`
    );
  }

  /**
   * Creates a partition before its first write, dated by its data, with its policy attached explicitly:
   * an ISM `ism_template` would skip it, its creation date being older than the policy.
   */
  async ensure(index: string): Promise<void> {
    if (this.known.has(index)) return;
    const range = this.partitions.rangeOf(index);
    const settings = partitionSettings(this.profile, this.active, this.policyId, range ? range.end : Date.now());
    const res = await this.client.request<{ error?: { type?: string } }>({ method: "PUT", path: `/${index}`, body: { settings } }, [400]);
    if (res.status === 400 && res.body.error?.type !== "resource_already_exists_exception") {
      throw new Error(`could not create partition ${index}: ${JSON.stringify(res.body.error)}`);
    }
    if (this.mechanism === "ism") {
      await this.client.request({ method: "POST", path: `/_plugins/_ism/add/${index}`, body: { policy_id: this.policyId } });
    }
    this.known.add(index);
  }

  async describePartitions(): Promise<PartitionInfo[]> {
    const res = await this.client.request<{ index: string; "docs.count": string | null; "store.size": string | null }[]>(
      { method: "GET", path: `/_cat/indices/${this.partitions.pattern}`, querystring: { format: "json", h: "index,docs.count,store.size", bytes: "b", expand_wildcards: "open" } },
      [404],
    );
    const rows = res.status === 404 ? [] : res.body;
    let policies: Record<string, string | undefined> = {};
    if (this.mechanism === "ilm" && rows.length > 0) {
      const explain = await this.client.request<{ indices?: Record<string, { policy?: string }> }>({ method: "GET", path: `/${this.partitions.pattern}/_ilm/explain` }, [404]);
      policies = Object.fromEntries(Object.entries(explain.body.indices ?? {}).map(([k, v]) => [k, v.policy]));
    }
    if (this.mechanism === "ism" && rows.length > 0) {
      const explain = await this.client.request<Record<string, { "index.plugins.index_state_management.policy_id"?: string; policy_id?: string } | number>>(
        { method: "GET", path: `/_plugins/_ism/explain/${this.partitions.pattern}` },
        [404],
      );
      policies = Object.fromEntries(
        Object.entries(explain.body).map(([k, v]) => [k, typeof v === "object" ? (v.policy_id ?? v["index.plugins.index_state_management.policy_id"]) : undefined]),
      );
    }
    return rows
      .map((r) => {
        const range = this.partitions.rangeOf(r.index);
        const deletesAt = this.mechanism === "none" ? undefined : this.expiresAt(r.index);
        return {
          index: r.index,
          ...(range ? { periodStart: range.start, periodEnd: range.end } : {}),
          docs: Number(r["docs.count"] ?? 0),
          bytes: Number(r["store.size"] ?? 0),
          policy: this.mechanism === "ism" || this.mechanism === "ilm" ? (policies[r.index] ?? "none (not managed)") : this.active,
          ...(deletesAt !== undefined ? { deletesAt } : {}),
        };
      })
      .sort((a, b) => a.index.localeCompare(b.index));
  }

  /** When a partition's data will all be older than the retention. */
  expiresAt(index: string): number | undefined {
    const range = this.partitions.rangeOf(index);
    return range ? this.expiryOf(range.end) : undefined;
  }

  /** When data that ends at `end` becomes older than the retention. */
  expiryOf(end: number): number {
    return end + this.config.retentionHours * 3_600_000;
  }
}
