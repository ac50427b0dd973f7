/**
 * The one interface every retention mechanism (ISM, ILM, the service's sweeper, none) implements, and
 * what each is handed. Which mechanism runs is chosen in retention-mechanisms.ts; the partition
 * lifecycle (lifecycle.ts) calls only these methods, so adding a mechanism is one new file and one
 * line in that registry.
 */
import type { Logger } from "../../../logger.js";
import type { ClusterProfile } from "../cluster-profile.js";
import type { ClusterClient } from "../client.js";
import type { Partitions } from "../partitions.js";

export interface RetentionContext {
  readonly client: ClusterClient;
  readonly partitions: Partitions;
  readonly profile: ClusterProfile;
  /** The retention: a partition is deleted once its period's end is this old. */
  readonly retentionMs: number;
  /** How long an expired partition stays out of the read alias before it is deleted (longer than any read). */
  readonly graceMs: number;
  /** The id of the cluster-side policy, or the stem of the ids where each partition has its own. */
  readonly policyId: string;
  readonly logger: Logger;
}

/** A partition as the cluster lists it: enough for a mechanism to adopt or describe it. */
export interface PartitionFacts {
  readonly index: string;
  /** The period it holds, from its name. */
  readonly range: { readonly start: number; readonly end: number };
  /** `index.creation_date` as the cluster keeps it (epoch ms, the node's clock). */
  readonly createdAt: number;
}

/** What retention will do with one partition, for operators (`ratestore partitions`). */
export interface PartitionRetention {
  /** The policy managing it, or the mechanism that deletes it ("sweeper"), or "none". */
  readonly policy: string;
  /** The lifecycle engine's own state for it (ISM state, ILM phase), when it has one. */
  readonly state?: string;
  /** When it leaves the read alias, as the mechanism will do it (epoch ms). */
  readonly deletesAt?: number;
}

export interface RetentionMechanism {
  /** The name shown by /readyz, logs and the partitions command. */
  readonly name: string;
  /** Whether the service's own sweeper deletes expired partitions under this mechanism. */
  readonly sweeps: boolean;
  /** Whether anything is ever deleted (points of expired periods are refused only then). */
  readonly deletes: boolean;
  /** Installs or updates the cluster-side policy and brings the partitions that exist under it. */
  install(existing: readonly PartitionFacts[]): Promise<void>;
  /** The settings a partition is created with, beyond its dating (pure: pinned by golden fixtures). */
  creationSettings(range: { readonly start: number; readonly end: number }): Record<string, unknown>;
  /** Puts a partition the service has just created under the mechanism. */
  adopt(partition: Omit<PartitionFacts, "createdAt">): Promise<void>;
  /** What the mechanism will do with each partition, by index name. */
  describe(partitions: readonly PartitionFacts[]): Promise<Map<string, PartitionRetention>>;
}

/** A duration as a lifecycle engine's time value: whole hours where it is, seconds (rounded up) otherwise. */
export function timeValue(ms: number): string {
  const clamped = Math.max(0, ms);
  return clamped % 3_600_000 === 0 ? `${clamped / 3_600_000}h` : `${Math.ceil(clamped / 1000)}s`;
}

/** The milliseconds of a time value written by `timeValue` (or any `<n>{ms,s,m,h,d}`); undefined if unreadable. */
export function timeValueMs(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
