import type { OperatedBackend, StorageObserver } from "../../src/storage/backend.js";
import { createBackend } from "../../src/storage/backends.js";
import { ClusterClient } from "../../src/storage/search-engine/client.js";
import { randomBytes } from "node:crypto";
import { loadConfig, type StorageConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { SearchEngineBackend } from "../../src/storage/search-engine/backend.js";
import { clusterUrl } from "./engines.js";

export const testLogger = createLogger(process.env.RATESTORE_TEST_LOG_LEVEL ?? "error");

/**
 * Storage configuration for one test suite: the running suite's engine, and an index prefix no other suite uses.
 * Test data is dated 2024, past the default retention, so retention is off unless a suite turns it on
 * (the retention suites do).
 */
export function testStorageConfig(overrides: Partial<StorageConfig> = {}): StorageConfig {
  const base = loadConfig({
    // A suite on a node of its own names its cluster; the others run on their engine's shared node.
    RATESTORE_CLUSTER_URL: overrides.cluster?.urls.join(",") ?? clusterUrl(),
    RATESTORE_INDEX_PREFIX: `t${randomBytes(5).toString("hex")}`,
    RATESTORE_RETENTION_MECHANISM: "none",
  }).storage;
  return { ...base, ...overrides };
}

/**
 * Removes every index under a suite's own prefix (partitions, rollups, the sweeper's lease) and its
 * template, by name, since Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name).
 */
export async function dropPrefix(config: StorageConfig): Promise<void> {
  const client = new ClusterClient(config.cluster);
  try {
    const rows = await client.request<{ index: string }[]>(
      {
        method: "GET",
        path: `/_cat/indices/${config.indexPrefix}-*`,
        querystring: { format: "json", h: "index", expand_wildcards: "all" },
      },
      [404],
    );
    const names = rows.status === 404 ? [] : rows.body.map((r) => r.index);
    for (let i = 0; i < names.length; i += 50)
      await client.request({ method: "DELETE", path: `/${names.slice(i, i + 50).join(",")}` }, [404]);
    await client.request({ method: "DELETE", path: `/_index_template/${config.indexPrefix}-points` }, [404]);
  } finally {
    await client.close();
  }
}

/**
 * A backend of the storage contract for the conformance suites (test/integration/contract/): built by
 * name from the registry as the service builds it, on a fresh prefix, initialised, and typed as the
 * contract only, so that a suite cannot reach into an engine's internals. `drop()` removes its data.
 */
export async function contractBackend(overrides: Partial<StorageConfig> = {}): Promise<OperatedBackend & { drop(): Promise<void> }> {
  const config = testStorageConfig(overrides);
  const backend = createBackend(config, testLogger);
  await backend.init();
  return Object.assign(backend, {
    async drop() {
      await dropPrefix(config);
      await backend.close();
    },
  });
}

/** A backend of the engine family on a fresh prefix, initialised, its internals in reach; `drop()` removes its data. */
export async function freshBackend(
  overrides: Partial<StorageConfig> = {},
  observer?: StorageObserver,
): Promise<SearchEngineBackend & { drop(): Promise<void> }> {
  const backend = new SearchEngineBackend(testStorageConfig(overrides), testLogger, observer);
  await backend.init();
  return Object.assign(backend, {
    async drop() {
      await dropPrefix(backend.config);
      await backend.close();
    },
  });
}
