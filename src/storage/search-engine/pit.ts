/** The point-in-time requests of each flavour (OpenSearch, Elasticsearch). */
import type { ClusterProfile } from "./cluster-profile.js";
import type { ClusterRequest } from "./client.js";

/** How long a point-in-time lives between two pages of a walk. */
export const PIT_KEEP_ALIVE = "2m";

/**
 * The requests of each point-in-time flavour: OpenSearch (2.4+) and Elasticsearch (7.10+) offer the
 * same idea under different routes and field names. Pure, so that each flavour's requests are pinned
 * by golden fixtures.
 */
export interface PitRequests {
  open(target: string): ClusterRequest;
  /** The id in an open response. */
  idOf(body: unknown): string | undefined;
  close(id: string): ClusterRequest;
}

const OPENSEARCH: PitRequests = {
  open: (target) => ({ method: "POST", path: `/${target}/_search/point_in_time`, querystring: { keep_alive: PIT_KEEP_ALIVE } }),
  idOf: (body) => (body as { pit_id?: string } | undefined)?.pit_id,
  close: (id) => ({ method: "DELETE", path: "/_search/point_in_time", body: { pit_id: [id] } }),
};

const ELASTICSEARCH: PitRequests = {
  open: (target) => ({ method: "POST", path: `/${target}/_pit`, querystring: { keep_alive: PIT_KEEP_ALIVE } }),
  idOf: (body) => (body as { id?: string } | undefined)?.id,
  close: (id) => ({ method: "DELETE", path: "/_pit", body: { id } }),
};

/** The flavour the profile names; undefined where the cluster has no point-in-time (walks use search_after alone). */
export function pitRequests(profile: ClusterProfile): PitRequests | undefined {
  return profile.pit === "opensearch" ? OPENSEARCH : profile.pit === "elasticsearch" ? ELASTICSEARCH : undefined;
}

/** The part of a search body that runs it inside a point-in-time (both flavours take the same field). */
export function inPit(id: string): { pit: { id: string; keep_alive: string } } {
  return { pit: { id, keep_alive: PIT_KEEP_ALIVE } };
}
