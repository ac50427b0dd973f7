/**
 * What a summary searches, prepared beside the refresh that comes before every read: the rollups of its
 * window where they serve it (rollups/rollup-reads.ts), and whether any partition of the window was
 * written before template version 5, whose whole and nano parts must be summed too (elsewhere those four
 * sums would only cost the cluster and the answer's size).
 */
import { sumAggregations, type TotalQuery, type TotalSource } from "./aggregations.js";
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";
import { selectionQuery } from "./query.js";
import type { RollupReads } from "./rollups/rollup-reads.js";

/** Beyond this many partitions in a window, the alias's mappings are read instead of naming each one. */
const MAX_NAMED = 16;

export class TotalQueries {
  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    /** Undefined when summaries read raw points only (RATESTORE_ROLLUPS=false). */
    private readonly rollups: RollupReads | undefined,
  ) {}

  /** The source of one summary; `refresh` starts (once) the refresh that comes before its search. */
  source(refresh: () => Promise<void>): TotalSource {
    return async (selection, time) => {
      const refreshed = refresh();
      const [planned, legacy] = await Promise.all([
        this.rollups ? this.rollups.query(selection, time, refreshed) : { query: selectionQuery(selection) },
        this.legacySums(selection.begin, selection.end),
        refreshed,
      ]);
      return { query: planned.query, sums: sumAggregations({ ...planned, legacy }) } satisfies TotalQuery;
    };
  }

  /** Whether a partition the window can read maps the whole and nano parts of template versions before 5. */
  private async legacySums(begin: number, end: number): Promise<boolean> {
    const named = this.partitions.indicesBetween(begin, end, MAX_NAMED);
    if (named?.length === 0) return false;
    const res = await this.client.request<Record<string, { mappings?: Record<string, unknown> }>>(
      {
        method: "GET",
        path: `/${(named ?? [this.partitions.alias]).join(",")}/_mapping/field/qty_units,price_units`,
        querystring: { ignore_unavailable: true, allow_no_indices: true },
      },
      [404],
    );
    return res.status !== 404 && Object.values(res.body).some((m) => Object.keys(m.mappings ?? {}).length > 0);
  }
}
