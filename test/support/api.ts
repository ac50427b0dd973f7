import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serviceApp } from "../../src/api/app.js";
import { Metrics } from "../../src/api/metrics.js";
import { serve } from "../../src/api/server.js";
import { loadConfig, type Config, type StorageConfig } from "../../src/config.js";
import type { Logger } from "../../src/logger.js";
import { freshBackend, testLogger } from "./cluster.js";
import { clusterUrl } from "./engines.js";

export const ADMIN_KEY = "admin-key-0123456789abcdef";
export const PROJECT_A_KEY = "proj-a-key-0123456789abcdef";
export const PROJECT_B_KEY = "proj-b-key-0123456789abcdef";

export interface TestApi {
  url: string;
  config: Config;
  backend: Awaited<ReturnType<typeof freshBackend>>;
  /** fetch against the service, as admin unless another key (or null for none) is given. */
  call(path: string, init?: RequestInit & { key?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
  /** Closes the server and the backend and leaves the data (for a user not allowed to drop it). */
  stop(): Promise<void>;
  /** Stops answering (connections refused), as a service that is down; `resume()` listens again on the same port. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** The real service (Express app + OpenSearch backend on a fresh prefix) listening on a random loopback port. */
export async function startApi(
  env: Record<string, string> = {},
  logger: Logger = testLogger,
  storage: Partial<StorageConfig> = {},
): Promise<TestApi> {
  const config = loadConfig({
    RATESTORE_CLUSTER_URL: storage.cluster?.urls.join(",") ?? clusterUrl(),
    RATESTORE_API_KEYS: JSON.stringify([
      { name: "admin", key: ADMIN_KEY, role: "admin" },
      { name: "project-a", key: PROJECT_A_KEY, role: "project", scope: "proj-a" },
      { name: "project-b", key: PROJECT_B_KEY, role: "project", scope: "proj-b" },
    ]),
    RATESTORE_CURSOR_SECRET: "a-test-secret-of-some-length",
    ...env,
  });
  const metrics = new Metrics();
  const backend = await freshBackend(storage, metrics);
  const app = serviceApp(config, backend, logger, metrics, {});
  let server: Server = await serve(app, 0, "127.0.0.1");
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const closeServer = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url,
    config,
    backend,
    call(path, init = {}) {
      const { key = ADMIN_KEY, json, headers, ...rest } = init;
      const h = new Headers(headers);
      if (key) h.set("authorization", `Bearer ${key}`);
      if (json !== undefined) h.set("content-type", "application/json");
      return fetch(url + path, {
        ...rest,
        headers: h,
        ...(json !== undefined ? { body: JSON.stringify(json), method: rest.method ?? "POST" } : {}),
      });
    },
    async close() {
      if (server.listening) await closeServer();
      await backend.drop();
    },
    async stop() {
      if (server.listening) await closeServer();
      await backend.close();
    },
    pause: closeServer,
    async resume() {
      server = await serve(app, port, "127.0.0.1");
    },
  };
}
