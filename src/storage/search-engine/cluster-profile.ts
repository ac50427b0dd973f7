/** The cluster profile: what the cluster can do, detected once and handed to every component. */
import { z } from "zod";
import { ConfigError } from "../../errors.js";

/**
 * What the cluster can do, detected once at init and handed to every component (as Jaeger's
 * `BackendVersion` and Zipkin's `BaseVersion` are). Shown by /readyz and logged at start; any field
 * can be overridden by configuration (RATESTORE_CLUSTER_PROFILE).
 */
export const ClusterProfileSchema = z.strictObject({
  distribution: z.enum(["opensearch", "elasticsearch"]),
  version: z.string().regex(/^\d+\.\d+\.\d+/, "a version such as 8.19.21"),
  /** Point-in-time API: OpenSearch's `/_search/point_in_time`, Elasticsearch's `/<index>/_pit`, or none. */
  pit: z.enum(["opensearch", "elasticsearch", "none"]),
  /**
   * Whether a point-in-time can be read in the order its shards store documents (the `_shard_doc`
   * sort: Elasticsearch 7.12+, OpenSearch 3.3+). Reading in that order fetches documents sequentially,
   * which is what makes the export run at the speed of a raw scan; without it the export walks in
   * point order.
   */
  storageOrder: z.enum(["shard_doc", "none"]),
  /**
   * How the cluster counts points by the hour of their start (the first step of locating a page):
   * `points_index` where a composite with one `date_histogram` source is answered from the points index
   * of `start` (OpenSearch 3), `doc_values` where it reads a doc value per point (about ten times as
   * long). With `points_index`, first pages are located too, which beats a sort over every point
   * (BENCHMARKS.md, *The figures behind the code*: hourCounts).
   */
  hourCounts: z.enum(["points_index", "doc_values"]),
  /**
   * Whether a keyword field kept as doc values only (`index: false`) can still be queried: `keyword` on
   * Elasticsearch 8.19 and OpenSearch 2.19 and later (the versions it was verified on; Elasticsearch
   * added it in 8.1), `none` before. Where it can, partitions keep `point_id` as doc values only: it is
   * sorted on, and queried only by the range that seeks a page deep inside a large group, so its
   * inverted index was bytes on every point for a rare query.
   */
  docValueQueries: z.enum(["keyword", "none"]),
  /**
   * The field type the cluster has for an open set of keys held in one bounded mapping: OpenSearch's
   * `flat_object` (2.7 and later), Elasticsearch's `flattened` (8 and later; in 7.x an x-pack module,
   * absent from the 7.10 test zip, so claimed there only by configuration), or none. Where there is
   * one, `metadata` is mapped with it, so that Dashboards and Kibana can filter `metadata.<key>`
   * without the mapping growing with the keys; `metadata_kv` stays beside it on every engine as the
   * field ratestore's own filters read (partitions made before the type was used have only that).
   */
  metadataMapping: z.enum(["flat_object", "flattened", "none"]),
  /** The cluster's own index lifecycle engine: OpenSearch ISM, Elasticsearch ILM, or none. */
  lifecycle: z.enum(["ism", "ilm", "none"]),
  /**
   * How a partition is dated by its data rather than by its creation: OpenSearch 3 accepts
   * `index.creation_date` at creation, ILM reads `index.lifecycle.origination_date`; others cannot.
   */
  backdating: z.enum(["creation_date", "origination_date", "none"]),
  /** Where distribution and version were read: `GET /`, or the nodes API where `GET /` is missing (Elasticsearch 8's test zip). */
  identifiedBy: z.enum(["root", "nodes"]),
  /** The fields set by configuration (RATESTORE_CLUSTER_PROFILE) instead of detected. */
  overridden: z.array(z.string()),
});
export type ClusterProfile = z.infer<typeof ClusterProfileSchema>;

/** A configuration override: any subset of the profile, applied over what was detected. */
export const ProfileOverrideSchema = ClusterProfileSchema.omit({ identifiedBy: true, overridden: true }).partial();
export type ProfileOverride = z.infer<typeof ProfileOverrideSchema>;

/** The configured override (RATESTORE_CLUSTER_PROFILE), checked field by field: a wrong one stops the start, naming the field. */
export function parseProfileOverride(raw: Readonly<Record<string, unknown>>): ProfileOverride {
  const result = ProfileOverrideSchema.strict().safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `RATESTORE_CLUSTER_PROFILE${i.path.map((p) => `.${String(p)}`).join("")}: ${i.message}`);
  throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
}
