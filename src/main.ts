/** The service's entry point: configuration, the backend, the API. */
import type { Server } from "node:http";
import { serviceApp } from "./api/app.js";
import { sleep } from "./backoff.js";
import { Metrics } from "./api/metrics.js";
import { serve } from "./api/server.js";
import { loadConfig } from "./config.js";
import { BackendUnavailableError } from "./errors.js";
import { createLogger } from "./logger.js";
import { createBackend } from "./storage/backends.js";

/** Serves the API: loads configuration, initialises the backend (waiting for the cluster), listens. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const backend = createBackend(config.storage, logger, metrics);

  const deadline = Date.now() + config.startupWaitSeconds * 1000;
  for (;;) {
    try {
      await backend.init();
      break;
    } catch (err) {
      if (!(err instanceof BackendUnavailableError) || Date.now() > deadline) throw err;
      logger.warn("cluster not reachable yet; retrying", {
        error: err.message,
        gives_up_in_seconds: Math.max(0, Math.round((deadline - Date.now()) / 1000)),
      });
      await sleep(2000);
    }
  }
  backend.startBackgroundWork();
  const health = await backend.health();
  const app = serviceApp(config, backend, logger, metrics, {
    name: health.clusterName,
    version: health.version,
    distribution: health.distribution,
  });
  if (!config.api.cursorSecret) logger.warn("RATESTORE_CURSOR_SECRET is not set: page cursors are valid for this process only");
  logger.info("authentication", { mode: config.api.auth, keys: config.api.keys.length, scope_key: config.api.scopeKey });
  const server: Server = await serve(app, config.port, config.host);
  logger.info("ratestore listening", {
    host: config.host,
    port: config.port,
    backend: backend.name,
    retention_hours: backend.getRetention().hours,
  });

  const shutdown = (signal: string) => {
    logger.info("shutting down", { signal });
    server.close(() => {
      void backend.close().finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  createLogger().error("ratestore failed to start", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
