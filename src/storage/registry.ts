/** The registry of storage backends by name (CloudKitty's backend entry points). */
import type { StorageConfig } from "../config.js";
import { UnknownBackendError } from "../errors.js";
import type { Logger } from "../logger.js";
import { NO_OBSERVER, type OperatedBackend, type StorageObserver } from "./backend.js";

/** Builds a backend from configuration: the counterpart of CloudKitty's `cloudkitty.storage.v2.backends` entry points. */
export type BackendFactory = (config: StorageConfig, logger: Logger, observer: StorageObserver) => OperatedBackend;

const factories = new Map<string, BackendFactory>();

export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return [...factories.keys()].sort();
}

export function createBackend(config: StorageConfig, logger: Logger, observer: StorageObserver = NO_OBSERVER): OperatedBackend {
  const factory = factories.get(config.backend);
  if (!factory) {
    throw new UnknownBackendError(
      `no storage backend named ${JSON.stringify(config.backend)}; registered: ${registeredBackends().join(", ")}`,
    );
  }
  return factory(config, logger, observer);
}
