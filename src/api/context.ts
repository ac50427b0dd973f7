/** What every route receives, built once at start-up. */
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { StorageBackend, StorageOperations } from "../storage/backend.js";
import type { CursorCodec } from "./cursor.js";
import type { Metrics } from "./metrics.js";

/** What every route needs, built once at start-up. */
export interface AppContext {
  readonly config: Config;
  /** The storage contract: what the routes read and write through. */
  readonly backend: StorageBackend;
  /** The operator's work on the same backend (refresh for outside readers, write statistics). */
  readonly operations: Pick<StorageOperations, "refresh" | "writeStats">;
  readonly logger: Logger;
  readonly cursors: CursorCodec;
  readonly metrics: Metrics;
  /** Cluster identity read at start-up, shown by /healthz. */
  readonly cluster: { name?: string; version?: string; distribution?: string };
}
