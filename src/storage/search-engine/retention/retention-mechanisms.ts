/**
 * The retention mechanisms and the one place one of them is chosen, from the configuration and the
 * cluster profile. A new mechanism is a file implementing RetentionMechanism, its name in config.ts and
 * an entry here.
 */
import type { RetentionMechanismName } from "../../../config.js";
import { ConfigError } from "../../../errors.js";
import type { ClusterProfile } from "../cluster-profile.js";
import { IlmRetention } from "./ilm-retention.js";
import { IsmRetention } from "./ism-retention.js";
import { NoRetention } from "./no-retention.js";
import type { RetentionContext, RetentionMechanism } from "./retention-mechanism.js";
import { SweeperRetention } from "./sweeper-retention.js";

interface MechanismEntry {
  readonly create: (ctx: RetentionContext) => RetentionMechanism;
  /** The cluster lifecycle engine it needs (ClusterProfile.lifecycle); `auto` picks the one the cluster has. */
  readonly needs?: ClusterProfile["lifecycle"];
}

// Exactly the names the configuration takes (config.ts): one missing or one extra does not compile.
const MECHANISMS: Readonly<Record<RetentionMechanismName, MechanismEntry>> = {
  ism: { create: (ctx) => new IsmRetention(ctx), needs: "ism" },
  ilm: { create: (ctx) => new IlmRetention(ctx), needs: "ilm" },
  sweeper: { create: (ctx) => new SweeperRetention(ctx) },
  none: { create: () => new NoRetention() },
};

/** The mechanism to run (pure): the configured one if the cluster can run it; for `auto`, the cluster's own engine, else the sweeper. */
export function chooseRetention(wanted: RetentionMechanismName | "auto", profile: ClusterProfile): RetentionMechanismName {
  const entries = Object.entries(MECHANISMS) as [RetentionMechanismName, MechanismEntry][];
  if (wanted === "auto") return entries.find(([, e]) => e.needs !== undefined && e.needs === profile.lifecycle)?.[0] ?? "sweeper";
  const needs = MECHANISMS[wanted].needs;
  if (needs !== undefined && needs !== profile.lifecycle) {
    throw new ConfigError(
      `RATESTORE_RETENTION_MECHANISM=${wanted} but this cluster's lifecycle engine is ${profile.lifecycle} (cluster profile)`,
    );
  }
  return wanted;
}

export function createRetention(name: RetentionMechanismName, ctx: RetentionContext): RetentionMechanism {
  return MECHANISMS[name].create(ctx);
}
