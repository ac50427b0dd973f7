/**
 * Detects the cluster profile (cluster-profile.ts) once at init. Components receive the
 * result and branch on its fields, never on a version string and never on the text of an error.
 */
import { BackendError } from "../../errors.js";
import type { ClusterProfile, ProfileOverride } from "./cluster-profile.js";
import type { ClusterClient } from "./client.js";

/** What the cluster says about itself; everything else is derived from it by `deriveProfile`. */
export interface ClusterFacts {
  readonly distribution: "opensearch" | "elasticsearch";
  readonly version: string;
  /** Modules and plugins of the node we talk to. */
  readonly components: readonly string[];
  readonly identifiedBy: "root" | "nodes";
  readonly clusterName?: string;
}

function atLeast(version: string, major: number, minor = 0): boolean {
  const [ma = 0, mi = 0] = version.split(".").map(Number);
  return ma > major || (ma === major && mi >= minor);
}

/** Pure: the profile that follows from what the cluster said (pinned by unit tests per engine). */
export function deriveProfile(facts: ClusterFacts, override: ProfileOverride = {}): ClusterProfile {
  const has = (name: string) => facts.components.includes(name);
  const os = facts.distribution === "opensearch";
  const pit = os
    ? atLeast(facts.version, 2, 4)
      ? "opensearch"
      : "none"
    : // Elasticsearch 7.10-7.17 serve PIT from x-pack-core (absent from 7.10's test zip); 8 from the server.
      atLeast(facts.version, 8) || (atLeast(facts.version, 7, 10) && has("x-pack-core"))
      ? "elasticsearch"
      : "none";
  // `_shard_doc` came with Elasticsearch 7.12 and OpenSearch 3.3 (opensearch-project/OpenSearch#18924).
  const storageOrder = pit !== "none" && atLeast(facts.version, os ? 3 : 7, os ? 3 : 12) ? "shard_doc" : "none";
  // OpenSearch rewrites such a composite into range counts over the points index (opensearch-project/
  // OpenSearch#11505, 2.12); measured on 3.6 only with ratestore's queries, so claimed from 3.0 on.
  const hourCounts = os && atLeast(facts.version, 3) ? "points_index" : "doc_values";
  const docValueQueries = atLeast(facts.version, os ? 2 : 8, 19) ? "keyword" : "none";
  const metadataMapping = os ? (atLeast(facts.version, 2, 7) ? "flat_object" : "none") : atLeast(facts.version, 8) ? "flattened" : "none";
  const lifecycle = os ? (has("opensearch-index-management") ? "ism" : "none") : has("x-pack-ilm") ? "ilm" : "none";
  const backdating = lifecycle === "ilm" ? "origination_date" : os && atLeast(facts.version, 3) ? "creation_date" : "none";
  return {
    distribution: facts.distribution,
    version: facts.version,
    pit,
    storageOrder,
    hourCounts,
    docValueQueries,
    metadataMapping,
    lifecycle,
    backdating,
    identifiedBy: facts.identifiedBy,
    ...override,
    overridden: Object.keys(override).sort(),
  };
}

interface RootInfo {
  cluster_name?: string;
  version?: { number?: string; distribution?: string };
}

interface NodesInfo {
  cluster_name?: string;
  nodes?: Record<string, { version?: string; build_flavor?: string; modules?: { name: string }[]; plugins?: { name: string }[] }>;
}

/** Asks the cluster what it is: `GET /` for identity where it exists, the local node's info for the rest. */
export async function readClusterFacts(client: ClusterClient): Promise<ClusterFacts> {
  const [root, nodes] = await Promise.all([
    // Elasticsearch 8 without its rest-root module answers 405; a proxy may answer 404 or 403.
    client.request<RootInfo>({ method: "GET", path: "/" }, [403, 404, 405]),
    client.request<NodesInfo>({
      method: "GET",
      path: "/_nodes/_local",
      querystring: { filter_path: "cluster_name,nodes.*.version,nodes.*.build_flavor,nodes.*.modules.name,nodes.*.plugins.name" },
    }),
  ]);
  const node = Object.values(nodes.body.nodes ?? {})[0];
  const components = [...(node?.modules ?? []), ...(node?.plugins ?? [])].map((c) => c.name);
  if (root.status === 200 && root.body.version?.number) {
    return {
      distribution: root.body.version.distribution === "opensearch" ? "opensearch" : "elasticsearch",
      version: root.body.version.number,
      components,
      identifiedBy: "root",
      ...(root.body.cluster_name ? { clusterName: root.body.cluster_name } : {}),
    };
  }
  if (!node?.version) throw new BackendError("cannot identify the cluster: neither GET / nor GET /_nodes/_local names a version", 502);
  // OpenSearch always serves GET /; a node without it that reports a build flavour is Elasticsearch.
  return {
    distribution: "elasticsearch",
    version: node.version,
    components,
    identifiedBy: "nodes",
    ...(nodes.body.cluster_name ? { clusterName: nodes.body.cluster_name } : {}),
  };
}

export interface DetectedCluster {
  readonly profile: ClusterProfile;
  readonly clusterName?: string;
}

/** Detects the profile, then applies the configured override field by field. */
export async function detectProfile(client: ClusterClient, override: ProfileOverride = {}): Promise<DetectedCluster> {
  const facts = await readClusterFacts(client);
  return { profile: deriveProfile(facts, override), ...(facts.clusterName ? { clusterName: facts.clusterName } : {}) };
}
