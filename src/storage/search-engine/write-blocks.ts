/** Why the cluster refuses writes now: its write blocks, read so that pushes and readiness say so. */
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";

/**
 * Why the cluster refuses writes to the partitions now: a cluster-wide block (`cluster.blocks.read_only`)
 * or an index block on a partition (`index.blocks.write`, or `read_only_allow_delete` set at the disk's
 * flood stage), as the cluster state lists them. Undefined when writes are accepted.
 */

interface Block {
  description?: string;
  levels?: string[];
}

interface BlocksState {
  blocks?: { global?: Record<string, Block>; indices?: Record<string, Record<string, Block>> };
}

const refusesWrites = (b: Block) => (b.levels ?? []).includes("write");

export async function writeBlocks(client: ClusterClient, partitions: Partitions): Promise<string | undefined> {
  const res = await client.request<BlocksState>({ method: "GET", path: "/_cluster/state/blocks" });
  const global = Object.values(res.body.blocks?.global ?? {}).filter(refusesWrites);
  if (global.length > 0) return `the cluster has a block: ${global.map((b) => b.description ?? "unnamed").join(", ")}`;
  const blocked = Object.entries(res.body.blocks?.indices ?? {})
    .filter(([index]) => partitions.rangeOf(index) !== undefined)
    .flatMap(([index, blocks]) =>
      Object.values(blocks)
        .filter(refusesWrites)
        .map((b) => `${index} (${b.description ?? "unnamed"})`),
    );
  return blocked.length > 0 ? `partitions have a block: ${blocked.sort().join(", ")}` : undefined;
}
