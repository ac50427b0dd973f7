/**
 * A partition's life: created before its first write, dated by its data where the cluster can date it,
 * put under the retention mechanism chosen at init (retention-mechanisms.ts), refused writes once
 * retention has passed it, and described for operators. Age is always the data's age, not the index's:
 * a partition expires once its period's end is older than the retention, whenever it was created.
 */
import type { StorageConfig } from "../../../config.js";
import type { Logger } from "../../../logger.js";
import type { PartitionInfo } from "../../backend.js";
import type { ClusterProfile } from "../cluster-profile.js";
import type { ClusterClient } from "../client.js";
import type { Partitions } from "../partitions.js";
import type { PartitionGate } from "../writer.js";
import { NoRetention } from "./no-retention.js";
import type { PartitionFacts, RetentionMechanism } from "./retention-mechanism.js";
import { chooseRetention, createRetention } from "./retention-mechanisms.js";

/**
 * The settings a partition is created with: its data's date where the profile says the cluster takes
 * one, and what its retention mechanism asks for (pure: pinned by golden fixtures).
 */
export function partitionSettings(
  profile: ClusterProfile,
  mechanism: RetentionMechanism,
  range: { readonly start: number; readonly end: number },
): Record<string, unknown> {
  return { ...(profile.backdating === "creation_date" ? { "index.creation_date": range.end } : {}), ...mechanism.creationSettings(range) };
}

interface CatRow {
  index: string;
  "creation.date": string | null;
  "docs.count"?: string | null;
  "store.size"?: string | null;
}

export class Lifecycle implements PartitionGate {
  private mechanism: RetentionMechanism = new NoRetention();
  private readonly known = new Set<string>();

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly config: StorageConfig,
    private readonly profile: ClusterProfile,
    private readonly logger: Logger,
  ) {}

  /** The policy id (ISM, ILM), or the stem of the ids where each partition has its own. */
  get policyId(): string {
    return `${this.config.indexPrefix}-retention`;
  }

  /** The mechanism's name, as /readyz shows it. */
  get active(): string {
    return this.mechanism.name;
  }

  /** Whether the service's sweeper has work to do on this cluster. */
  get sweeperNeeded(): boolean {
    return this.mechanism.sweeps;
  }

  /** Builds the mechanism the configuration and the profile call for (pure of the cluster: for golden fixtures too). */
  build(): RetentionMechanism {
    const name = chooseRetention(this.config.retentionMechanism, this.profile);
    return createRetention(name, {
      client: this.client,
      partitions: this.partitions,
      profile: this.profile,
      retentionMs: this.retentionMs,
      graceMs: this.config.sweepGraceSeconds * 1000,
      policyId: this.policyId,
      logger: this.logger,
    });
  }

  /** Chooses the mechanism, installs or updates its policy, and puts the partitions that exist under it. */
  async init(): Promise<string> {
    const mechanism = this.build();
    await mechanism.install(await this.facts());
    this.mechanism = mechanism;
    this.logger.info("retention", {
      mechanism: this.active,
      retention_hours: this.config.retentionHours,
      policy: mechanism.sweeps || !mechanism.deletes ? null : this.policyId,
    });
    return this.active;
  }

  /**
   * Why a partition may not be written: retention deletes it (or already has) because all its data is
   * older than the retention. Such points are refused, never acknowledged and then deleted.
   */
  refusal(index: string, now: number): string | undefined {
    if (!this.mechanism.deletes) return undefined;
    const expires = this.expiresAt(index);
    if (expires === undefined || expires > now) return undefined;
    return (
      `the period is past the retention of ${this.config.retentionHours} h: its partition ${index} expired at ${new Date(expires).toISOString()} ` +
      `and retention deletes it; raise RATESTORE_RETENTION_HOURS or set RATESTORE_RETENTION_MECHANISM=none to keep such data`
    );
  }

  /**
   * Creates a partition before its first write, dated by its data where the cluster can, and puts it
   * under the retention mechanism explicitly: an ISM `ism_template` would skip an index dated older
   * than the policy.
   */
  async ensure(index: string): Promise<void> {
    if (this.known.has(index)) return;
    const range = this.partitions.rangeOf(index);
    if (!range) throw new Error(`${index} is not a partition name of ${this.partitions.alias}`);
    const settings = partitionSettings(this.profile, this.mechanism, range);
    const res = await this.client.request<{ error?: { type?: string } }>({ method: "PUT", path: `/${index}`, body: { settings } }, [400]);
    if (res.status === 400 && res.body.error?.type !== "resource_already_exists_exception") {
      throw new Error(`could not create partition ${index}: ${JSON.stringify(res.body.error)}`);
    }
    await this.mechanism.adopt({ index, range });
    this.known.add(index);
  }

  async describePartitions(): Promise<PartitionInfo[]> {
    const rows = await this.catPartitions("index,creation.date,docs.count,store.size");
    const facts = this.factsOf(rows);
    const retention = await this.mechanism.describe(facts);
    return rows
      .map((r) => {
        const range = this.partitions.rangeOf(r.index);
        const what = retention.get(r.index);
        return {
          index: r.index,
          ...(range ? { periodStart: range.start, periodEnd: range.end } : {}),
          docs: Number(r["docs.count"] ?? 0),
          bytes: Number(r["store.size"] ?? 0),
          policy: what?.policy ?? this.active,
          ...(what?.state !== undefined ? { state: what.state } : {}),
          ...(what?.deletesAt !== undefined ? { deletesAt: what.deletesAt } : {}),
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
    return end + this.retentionMs;
  }

  private get retentionMs(): number {
    return this.config.retentionHours * 3_600_000;
  }

  private async catPartitions(columns: string): Promise<CatRow[]> {
    const res = await this.client.request<CatRow[]>(
      {
        method: "GET",
        path: `/_cat/indices/${this.partitions.pattern}`,
        querystring: { format: "json", h: columns, bytes: "b", expand_wildcards: "open" },
      },
      [404],
    );
    return res.status === 404 ? [] : res.body;
  }

  private factsOf(rows: readonly CatRow[]): PartitionFacts[] {
    return rows.flatMap((r) => {
      const range = this.partitions.rangeOf(r.index);
      return range ? [{ index: r.index, range, createdAt: Number(r["creation.date"]) }] : [];
    });
  }

  private async facts(): Promise<PartitionFacts[]> {
    return this.factsOf(await this.catPartitions("index,creation.date"));
  }
}
