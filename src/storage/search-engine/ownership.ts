/** Which indices behind the read alias ratestore did not write, so that it never sums another's. */
import type { ClusterClient } from "./client.js";

/**
 * The indices behind the read alias that ratestore did not write: they lack `point_id`, which every
 * partition's template maps. A CloudKitty index attached to the alias would otherwise be summed as if
 * it were ours, with none of the fields ratestore sums over: zeros, with a 200.
 */
export async function foreignIndices(client: ClusterClient, alias: string): Promise<string[]> {
  const res = await client.request<Record<string, { mappings?: Record<string, unknown> }>>(
    { method: "GET", path: `/${alias}/_mapping/field/point_id`, querystring: { ignore_unavailable: true, allow_no_indices: true } },
    [404],
  );
  if (res.status === 404) return [];
  return Object.entries(res.body)
    .filter(([, m]) => !m.mappings || !("point_id" in m.mappings))
    .map(([index]) => index)
    .sort();
}

/** What an operator reads when the alias names an index that ratestore does not own. */
export function foreignIndexProblem(alias: string, indices: readonly string[]): string {
  return (
    `the read alias ${alias} includes ${indices.join(", ")}, which ratestore did not write (no point_id field: a CloudKitty index?). ` +
    `ratestore will not serve figures from it; take it out of the alias and copy it with \`ratestore migrate --from <cluster url> --index ${indices[0]}\``
  );
}
