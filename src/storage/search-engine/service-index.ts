/**
 * Creating one of the small indices ratestore keeps beside its partitions (the locks, the rollup states):
 * one shard, the partitions' replica settings (so that a single-node cluster stays green), created by
 * whichever instance comes first.
 */
import type { ClusterClient } from "./client.js";

/** Creates the index; false when it was there already (made by another instance, or an earlier release). */
export async function createServiceIndex(
  client: ClusterClient,
  name: string,
  replicas: Record<string, string | number>,
  mappings?: Record<string, unknown>,
): Promise<boolean> {
  const res = await client.request<{ error?: { type?: string } }>(
    {
      method: "PUT",
      path: `/${name}`,
      body: { settings: { index: { number_of_shards: 1, ...replicas } }, ...(mappings ? { mappings } : {}) },
    },
    [400],
  );
  if (res.status !== 400) return true;
  if (res.body.error?.type !== "resource_already_exists_exception")
    throw new Error(`could not create ${name}: ${JSON.stringify(res.body)}`);
  return false;
}
