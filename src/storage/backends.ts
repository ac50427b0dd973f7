import type { OpenSearchConfig } from "../config.js";
import type { CloudKittySource } from "./cloudkitty-source.js";
import { OpenSearchBackend } from "./opensearch/backend.js";
import { OpenSearchCloudKittySource } from "./opensearch/cloudkitty-source.js";
import { registerBackend } from "./registry.js";

/** The built-in backends. Another backend registers itself the same way before createBackend() is called. */
export function registerBuiltinBackends(): void {
  registerBackend("opensearch", (config, logger, observer) => new OpenSearchBackend(config, logger, observer));
}

registerBuiltinBackends();

export { createBackend, registerBackend, registeredBackends } from "./registry.js";

/** A CloudKitty index to migrate from, on an OpenSearch or Elasticsearch cluster. */
export function openCloudKittySource(cluster: OpenSearchConfig, index: string): CloudKittySource {
  return new OpenSearchCloudKittySource(cluster, index);
}
