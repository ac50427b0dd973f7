import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { StorageBackend } from "../storage/backend.js";
import type { CursorCodec } from "./cursor.js";
import type { Metrics } from "./metrics.js";

/** What every route needs, built once at start-up. */
export interface AppContext {
  readonly config: Config;
  readonly backend: StorageBackend;
  readonly logger: Logger;
  readonly cursors: CursorCodec;
  readonly metrics: Metrics;
  /** Cluster identity read at start-up, shown by /healthz. */
  readonly cluster: { name?: string; version?: string; distribution?: string };
}
