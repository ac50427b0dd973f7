import type { StorageObserver } from "../../src/storage/backend.js";
import { randomBytes } from "node:crypto";
import { loadConfig, type StorageConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { SearchEngineBackend } from "../../src/storage/search-engine/backend.js";

export const testLogger = createLogger(process.env.RATESTORE_TEST_LOG_LEVEL ?? "error");

/**
 * Storage configuration for one test suite: the test cluster, and an index prefix no other suite uses.
 * Test data is dated 2024, past the default retention, so retention is off unless a suite turns it on
 * (the retention suites do).
 */
export function testStorageConfig(overrides: Partial<StorageConfig> = {}): StorageConfig {
  const url = process.env.RATESTORE_CLUSTER_URL;
  if (!url) throw new Error("RATESTORE_CLUSTER_URL is not set: the global setup provisions it (test/support/global-setup.ts)");
  const base = loadConfig({
    RATESTORE_CLUSTER_URL: url,
    RATESTORE_INDEX_PREFIX: `t${randomBytes(5).toString("hex")}`,
    RATESTORE_RETENTION_MECHANISM: "none",
  }).storage;
  return { ...base, ...overrides };
}

/** A backend on a fresh prefix, initialised; `drop()` removes its partitions and template. */
export async function freshBackend(
  overrides: Partial<StorageConfig> = {},
  observer?: StorageObserver,
): Promise<SearchEngineBackend & { drop(): Promise<void> }> {
  const backend = new SearchEngineBackend(testStorageConfig(overrides), testLogger, observer);
  await backend.init();
  return Object.assign(backend, {
    async drop() {
      // The prefix is this suite's own: every index under it (partitions, the sweeper's lease) goes, by
      // name, since Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name).
      const rows = await backend.client.request<{ index: string }[]>(
        {
          method: "GET",
          path: `/_cat/indices/${backend.config.indexPrefix}-*`,
          querystring: { format: "json", h: "index", expand_wildcards: "all" },
        },
        [404],
      );
      const names = rows.status === 404 ? [] : rows.body.map((r) => r.index);
      for (let i = 0; i < names.length; i += 50)
        await backend.client.request({ method: "DELETE", path: `/${names.slice(i, i + 50).join(",")}` }, [404]);
      await backend.client.request({ method: "DELETE", path: `/_index_template/${backend.partitions.alias}` }, [404]);
      await backend.close();
    },
  });
}
