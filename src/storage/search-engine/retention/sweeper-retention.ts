/**
 * Retention by the service's own sweeper (retention-sweeper.ts), for clusters without a lifecycle
 * engine: it goes by the partitions' names, so a partition is deleted once its period's end is past
 * the retention whenever it was created. Nothing is installed on the cluster.
 */
import type { PartitionFacts, PartitionRetention, RetentionContext, RetentionMechanism } from "./retention-mechanism.js";

export class SweeperRetention implements RetentionMechanism {
  readonly name = "sweeper";
  readonly sweeps = true;
  readonly deletes = true;

  constructor(private readonly ctx: RetentionContext) {}

  creationSettings(): Record<string, unknown> {
    return {};
  }

  async install(): Promise<void> {}

  async adopt(): Promise<void> {}

  async describe(partitions: readonly PartitionFacts[]): Promise<Map<string, PartitionRetention>> {
    return new Map(partitions.map((p) => [p.index, { policy: this.name, deletesAt: p.range.end + this.ctx.retentionMs }]));
  }
}
