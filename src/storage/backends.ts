import { OpenSearchBackend } from "./opensearch/backend.js";
import { registerBackend } from "./registry.js";

/** The built-in backends. Another backend registers itself the same way before createBackend() is called. */
export function registerBuiltinBackends(): void {
  registerBackend("opensearch", (config, logger) => new OpenSearchBackend(config, logger));
}

registerBuiltinBackends();

export { createBackend, registerBackend, registeredBackends } from "./registry.js";
