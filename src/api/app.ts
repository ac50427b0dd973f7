import express, { type Express } from "express";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { StorageBackend } from "../storage/backend.js";

export interface AppContext {
  readonly config: Config;
  readonly backend: StorageBackend;
  readonly logger: Logger;
  /** Cluster identity read at start-up, shown by /healthz. */
  readonly cluster: { name?: string; version?: string; distribution?: string };
}

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", cluster: ctx.cluster });
  });
  return app;
}
