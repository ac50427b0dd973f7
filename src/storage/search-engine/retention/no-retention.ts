/** No retention (RATESTORE_RETENTION_MECHANISM=none): nothing is ever deleted, and no point is refused for its age. */
import type { PartitionFacts, PartitionRetention, RetentionMechanism } from "./retention-mechanism.js";

export class NoRetention implements RetentionMechanism {
  readonly name = "none";
  readonly sweeps = false;
  readonly deletes = false;

  creationSettings(): Record<string, unknown> {
    return {};
  }

  async install(): Promise<void> {}

  async adopt(): Promise<void> {}

  async describe(partitions: readonly PartitionFacts[]): Promise<Map<string, PartitionRetention>> {
    return new Map(partitions.map((p) => [p.index, { policy: this.name }]));
  }
}
