/** The built-in storage backends, registered by name. */
import type { ClusterConfig } from "../config.js";
import type { CloudKittySource } from "./cloudkitty-source.js";
import { SearchEngineBackend } from "./search-engine/backend.js";
import { CloudKittyIndexSource } from "./search-engine/cloudkitty-source.js";
import { registerBackend, type BackendFactory } from "./registry.js";

/** The built-in backends. Another backend registers itself the same way before createBackend() is called. */
export function registerBuiltinBackends(): void {
  const searchEngine: BackendFactory = (config, logger, observer) => new SearchEngineBackend(config, logger, observer);
  registerBackend("search-engine", searchEngine);
  // Its name before it was named for both engines.
  registerBackend("opensearch", searchEngine);
}

registerBuiltinBackends();

export { createBackend, registerBackend, registeredBackends } from "./registry.js";

/** A CloudKitty index to migrate from, on an OpenSearch or Elasticsearch cluster. */
export function openCloudKittySource(cluster: ClusterConfig, index: string): CloudKittySource {
  return new CloudKittyIndexSource(cluster, index);
}
