import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * All configuration comes from environment variables, optionally seeded from a JSON file named by
 * RATESTORE_CONFIG_FILE (an object of the same variable names; the environment wins). The README's
 * configuration table is this schema, variable by variable.
 */
const intFrom = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z.object({
  PORT: intFrom(8080, 0, 65535),
  HOST: z.string().min(1).default("127.0.0.1"),
  OPENSEARCH_URL: z.url().optional(),
  OPENSEARCH_USERNAME: z.string().optional(),
  OPENSEARCH_PASSWORD: z.string().optional(),
  OPENSEARCH_TLS_VERIFY: z.enum(["true", "false"]).default("true"),
  OPENSEARCH_REQUEST_TIMEOUT_MS: intFrom(30_000, 100, 600_000),
  RATESTORE_OS_PORT: intFrom(9200, 1, 65535),
  RATESTORE_BACKEND: z.string().min(1).default("opensearch"),
  RATESTORE_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, "lowercase letters, digits, '-' and '_', starting with a letter or digit")
    .default("ratestore"),
  RATESTORE_PARTITION: z.enum(["day", "month", "year"]).default("month"),
  RATESTORE_INDEX_SHARDS: intFrom(1, 1, 1024),
  RATESTORE_INDEX_REPLICAS: z
    .string()
    .regex(/^(auto|\d+)$/, "a number of replicas, or 'auto' (0-1 depending on the nodes)")
    .default("auto"),
  RATESTORE_REFRESH_INTERVAL: z.string().regex(/^(-1|\d+(ms|s|m))$/).default("1s"),
  RATESTORE_RETENTION_HOURS: intFrom(2400, 1, 24 * 365 * 100),
  RATESTORE_BULK_MAX_DOCS: intFrom(2000, 1, 100_000),
  RATESTORE_BULK_MAX_BYTES: intFrom(5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  RATESTORE_BULK_CONCURRENCY: intFrom(2, 1, 64),
  RATESTORE_BULK_RETRIES: intFrom(5, 0, 20),
  RATESTORE_LOG_LEVEL: z.enum(["error", "warn", "info", "http", "verbose", "debug"]).default("info"),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface OpenSearchConfig {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly tlsVerify: boolean;
  readonly requestTimeoutMs: number;
}

export type PartitionGranularity = "day" | "month" | "year";

export interface StorageConfig {
  readonly backend: string;
  readonly opensearch: OpenSearchConfig;
  readonly indexPrefix: string;
  readonly partition: PartitionGranularity;
  readonly shards: number;
  /** A fixed replica count, or "auto" for `auto_expand_replicas: 0-1`. */
  readonly replicas: number | "auto";
  readonly refreshInterval: string;
  readonly retentionHours: number;
  readonly bulk: {
    readonly maxDocs: number;
    readonly maxBytes: number;
    readonly concurrency: number;
    readonly retries: number;
  };
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: RawConfig["RATESTORE_LOG_LEVEL"];
  readonly storage: StorageConfig;
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`RATESTORE_CONFIG_FILE ${path}: ${(err as Error).message}`);
  }
  const result = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).safeParse(parsed);
  if (!result.success) throw new ConfigError(`RATESTORE_CONFIG_FILE ${path}: must be a JSON object of variable names to values`);
  return Object.fromEntries(Object.entries(result.data).map(([k, v]) => [k, String(v)]));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = env.RATESTORE_CONFIG_FILE ? readConfigFile(env.RATESTORE_CONFIG_FILE) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") merged[k] = v;
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const c = result.data;
  return {
    port: c.PORT,
    host: c.HOST,
    logLevel: c.RATESTORE_LOG_LEVEL,
    storage: {
      backend: c.RATESTORE_BACKEND,
      opensearch: {
        url: c.OPENSEARCH_URL ?? `http://127.0.0.1:${c.RATESTORE_OS_PORT}`,
        username: c.OPENSEARCH_USERNAME,
        password: c.OPENSEARCH_PASSWORD,
        tlsVerify: c.OPENSEARCH_TLS_VERIFY === "true",
        requestTimeoutMs: c.OPENSEARCH_REQUEST_TIMEOUT_MS,
      },
      indexPrefix: c.RATESTORE_INDEX_PREFIX,
      partition: c.RATESTORE_PARTITION,
      shards: c.RATESTORE_INDEX_SHARDS,
      replicas: c.RATESTORE_INDEX_REPLICAS === "auto" ? "auto" : Number(c.RATESTORE_INDEX_REPLICAS),
      refreshInterval: c.RATESTORE_REFRESH_INTERVAL,
      retentionHours: c.RATESTORE_RETENTION_HOURS,
      bulk: {
        maxDocs: c.RATESTORE_BULK_MAX_DOCS,
        maxBytes: c.RATESTORE_BULK_MAX_BYTES,
        concurrency: c.RATESTORE_BULK_CONCURRENCY,
        retries: c.RATESTORE_BULK_RETRIES,
      },
    },
  };
}
