/** The service's configuration: a zod schema over the environment (and an optional JSON file). */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * All configuration comes from environment variables, optionally seeded from a JSON file named by
 * RATESTORE_CONFIG_FILE (an object of the same variable names; the environment wins). The
 * configuration table of docs/configuration.md is this schema, variable by variable.
 */
/**
 * The retention mechanisms an operator can name (besides `auto`). Each has one implementation, and the
 * storage layer's registry must cover exactly these (retention-mechanisms.ts is typed against the list).
 */
export const RETENTION_MECHANISM_NAMES = ["ism", "ilm", "sweeper", "none"] as const;
export type RetentionMechanismName = (typeof RETENTION_MECHANISM_NAMES)[number];

const intFrom = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z.object({
  PORT: intFrom(8080, 0, 65535),
  HOST: z.string().min(1).default("127.0.0.1"),
  /** One URL, or several separated by commas: requests fail over between them. */
  RATESTORE_CLUSTER_URL: z
    .string()
    .transform((v) =>
      v
        .split(",")
        .map((u) => u.trim())
        .filter((u) => u !== ""),
    )
    .pipe(
      z
        .array(z.url({ protocol: /^https?$/, error: "each cluster URL must be an http(s) URL" }))
        .min(1, "at least one cluster URL")
        .max(64),
    )
    .optional(),
  RATESTORE_CLUSTER_USERNAME: z.string().optional(),
  RATESTORE_CLUSTER_PASSWORD: z.string().optional(),
  RATESTORE_CLUSTER_TLS_VERIFY: z.enum(["true", "false"]).default("true"),
  /** A PEM file of the CA(s) that signed the cluster's certificate, trusted besides the system's. */
  RATESTORE_CLUSTER_CA_FILE: z.string().min(1).optional(),
  RATESTORE_CLUSTER_REQUEST_TIMEOUT_MS: intFrom(30_000, 100, 600_000),
  /** The local node's port when RATESTORE_CLUSTER_URL is not set. */
  RATESTORE_ENGINE_PORT: intFrom(9200, 1, 65535),
  /**
   * Fields of the detected cluster profile to override, as a JSON object: {"pit":"none"}. The storage
   * backend checks the fields (the profile is the engine family's, src/storage/search-engine/).
   */
  RATESTORE_CLUSTER_PROFILE: z
    .string()
    .transform((v, ctx) => {
      try {
        return JSON.parse(v) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), z.unknown(), { error: "a JSON object of profile fields" }))
    .optional(),
  /** How long start-up waits for the cluster before giving up. */
  RATESTORE_STARTUP_WAIT_SECONDS: intFrom(120, 0, 86_400),
  /** The storage backend: `search-engine` (OpenSearch or Elasticsearch; `opensearch` is an older name of it). */
  RATESTORE_BACKEND: z.string().min(1).default("search-engine"),
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
  RATESTORE_INDEX_SORT: z.enum(["true", "false"]).default("false"),
  /**
   * Stored-fields compression of new partitions. `default` (LZ4) reads a page about a quarter faster
   * than `best_compression` (DEFLATE), which stores about a quarter less: every page fetches its points
   * from different compressed blocks (BENCHMARKS.md).
   */
  RATESTORE_INDEX_CODEC: z.enum(["default", "best_compression"]).default("default"),
  /** `.keyword` sub-fields on `type` and `groupby.*`, which CloudKitty's own backends aggregate on. */
  RATESTORE_CLOUDKITTY_FIELDS: z.enum(["true", "false"]).default("true"),
  RATESTORE_REFRESH_INTERVAL: z
    .string()
    .regex(/^(-1|\d+(ms|s|m))$/)
    .default("1s"),
  RATESTORE_RETENTION_HOURS: intFrom(2400, 1, 24 * 365 * 100),
  RATESTORE_RETENTION_MECHANISM: z.enum(["auto", ...RETENTION_MECHANISM_NAMES]).default("auto"),
  RATESTORE_SWEEP_INTERVAL_SECONDS: intFrom(3600, 1, 7 * 86_400),
  RATESTORE_SWEEP_GRACE_SECONDS: intFrom(600, 0, 7 * 86_400),
  /** Summaries from exact rollups of whole days and months (rollups/), kept up to date by a background builder. */
  RATESTORE_ROLLUPS: z.enum(["true", "false"]).default("true"),
  /** How often the builder looks for days changed since their rollup was built. */
  RATESTORE_ROLLUP_INTERVAL_SECONDS: intFrom(10, 1, 3600),
  /** How long a day must go unwritten before it is rebuilt: successive pushes of one day cost one build. */
  RATESTORE_ROLLUP_QUIET_SECONDS: intFrom(5, 0, 86_400),
  RATESTORE_BULK_MAX_DOCS: intFrom(2000, 1, 100_000),
  RATESTORE_BULK_MAX_BYTES: intFrom(5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  RATESTORE_BULK_CONCURRENCY: intFrom(2, 1, 64),
  RATESTORE_BULK_RETRIES: intFrom(5, 0, 20),
  RATESTORE_AUTH: z.enum(["auto", "keys", "none"]).default("auto"),
  RATESTORE_API_KEYS: z.string().optional(),
  RATESTORE_API_KEYS_FILE: z.string().optional(),
  RATESTORE_SCOPE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_@-]{0,127}$/)
    .default("project_id"),
  RATESTORE_CURSOR_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  RATESTORE_MAX_BODY_BYTES: intFrom(16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  RATESTORE_LOG_LEVEL: z.enum(["error", "warn", "info", "http", "verbose", "debug"]).default("info"),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

/**
 * Older names of settings, still read: a setting may be given under its name or one older name, not
 * under two names with different values.
 */
export const CONFIG_ALIASES: Readonly<Partial<Record<keyof RawConfig, readonly string[]>>> = {
  RATESTORE_CLUSTER_URL: ["OPENSEARCH_URL"],
  RATESTORE_CLUSTER_USERNAME: ["OPENSEARCH_USERNAME"],
  RATESTORE_CLUSTER_PASSWORD: ["OPENSEARCH_PASSWORD"],
  RATESTORE_CLUSTER_TLS_VERIFY: ["OPENSEARCH_TLS_VERIFY"],
  RATESTORE_CLUSTER_CA_FILE: ["OPENSEARCH_CA_FILE"],
  RATESTORE_CLUSTER_REQUEST_TIMEOUT_MS: ["OPENSEARCH_REQUEST_TIMEOUT_MS"],
  RATESTORE_ENGINE_PORT: ["RATESTORE_OS_PORT"],
};

/** The settings under their current names, and which older name each came from. */
function resolveAliases(settings: Readonly<Record<string, string | undefined>>): {
  values: Record<string, string | undefined>;
  from: Map<string, string>;
} {
  const olderNames = new Set(Object.values(CONFIG_ALIASES).flat());
  const values: Record<string, string | undefined> = Object.fromEntries(Object.entries(settings).filter(([k]) => !olderNames.has(k)));
  const from = new Map<string, string>();
  for (const [name, olders] of Object.entries(CONFIG_ALIASES)) {
    for (const older of olders ?? []) {
      const value = settings[older];
      if (value === undefined) continue;
      const current = values[name];
      if (current !== undefined && current !== value) {
        // Names only: a value may be a password.
        throw new ConfigError(`${name} and its older name ${older} are both set, to different values: set one`);
      }
      if (current === undefined) from.set(name, older);
      values[name] = value;
    }
  }
  return { values, from };
}

/** How to reach the cluster, and what to override of what it says it can do. */
export interface ClusterConfig {
  /** One or more URLs of the same cluster; a request that cannot connect to one goes to the next. */
  readonly urls: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly tlsVerify: boolean;
  /** The PEM text of RATESTORE_CLUSTER_CA_FILE: the CA(s) trusted for the cluster's certificate. */
  readonly ca?: string;
  readonly requestTimeoutMs: number;
  /** Fields of the detected cluster profile replaced by configuration, checked by the backend. */
  readonly profile: Readonly<Record<string, unknown>>;
}

export type PartitionGranularity = "day" | "month" | "year";

export interface StorageConfig {
  readonly backend: string;
  readonly cluster: ClusterConfig;
  readonly indexPrefix: string;
  readonly partition: PartitionGranularity;
  readonly shards: number;
  /** A fixed replica count, or "auto" for `auto_expand_replicas: 0-1`. */
  readonly replicas: number | "auto";
  readonly refreshInterval: string;
  /** Sort new partitions on disk by the read order: faster pages and exports, slower ingestion (BENCHMARKS.md). */
  readonly indexSort: boolean;
  readonly indexCodec: "default" | "best_compression";
  /**
   * Give `type` and every `groupby.*` key a `.keyword` sub-field (doc values only), the fields
   * CloudKitty's own Elasticsearch and OpenSearch backends group by, so that they read these partitions.
   */
  readonly cloudkittyFields: boolean;
  readonly retentionHours: number;
  /** auto: the cluster's lifecycle engine (ISM, ILM) where it has one, else the service's sweeper. */
  readonly retentionMechanism: "auto" | RetentionMechanismName;
  readonly sweepIntervalSeconds: number;
  /** How long an expired partition stays out of the read alias before it is deleted (by the sweeper or the ISM policy). */
  readonly sweepGraceSeconds: number;
  readonly rollups: {
    /** Summaries read rollups. Off, writes still mark their days: turned on again, no stale rollup is used. */
    readonly enabled: boolean;
    readonly intervalSeconds: number;
    readonly quietSeconds: number;
    /**
     * Writes mark the days they change (rollups/rollup-states.ts). Only the benchmark turns this off, to
     * measure what the marks cost; no environment variable does, since rollups read after writes that
     * did not mark could be stale (and the backend refuses rollups with it off).
     */
    readonly marks: boolean;
  };
  readonly bulk: {
    readonly maxDocs: number;
    readonly maxBytes: number;
    readonly concurrency: number;
    readonly retries: number;
  };
}

/** One API key. `key_sha256` lets the file hold a digest instead of the key itself. */
export const ApiKeySchema = z
  .strictObject({
    name: z.string().min(1).max(128),
    key: z.string().min(16, "API keys must be at least 16 characters").optional(),
    key_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "a hex SHA-256 digest")
      .optional(),
    role: z.enum(["admin", "project"]),
    scope: z.string().min(1).max(1024).optional(),
  })
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), { message: "give exactly one of key and key_sha256" })
  .refine((k) => (k.role === "project") === (k.scope !== undefined), { message: "a project key needs a scope, an admin key has none" });
export type ApiKeyConfig = z.infer<typeof ApiKeySchema>;

export interface ApiConfig {
  /** "none" only on loopback; "auto" is "keys" when any key is configured, else "none". */
  readonly auth: "keys" | "none";
  readonly keys: readonly ApiKeyConfig[];
  readonly scopeKey: string;
  readonly cursorSecret?: string;
  readonly maxBodyBytes: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly api: ApiConfig;
  readonly logLevel: RawConfig["RATESTORE_LOG_LEVEL"];
  readonly startupWaitSeconds: number;
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

/** The cluster's CA file, read once at start: a path that cannot be read, or holds no PEM certificate, stops the start here. */
function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`RATESTORE_CLUSTER_CA_FILE ${path}: ${(err as Error).message}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----"))
    throw new ConfigError(`RATESTORE_CLUSTER_CA_FILE ${path}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return text;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = env.RATESTORE_CONFIG_FILE ? readConfigFile(env.RATESTORE_CONFIG_FILE) : {};
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") merged[k] = v;
  const { values, from } = resolveAliases(merged);
  const result = ConfigSchema.safeParse(values);
  if (!result.success) {
    const named = (path: PropertyKey[]) => {
      const name = String(path[0]);
      return [from.has(name) ? `${name} (set as ${from.get(name)})` : name, ...path.slice(1).map(String)].join(".");
    };
    const lines = result.error.issues.map((i) => `${named(i.path)}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  const c = result.data;
  const keys = loadApiKeys(c.RATESTORE_API_KEYS, c.RATESTORE_API_KEYS_FILE);
  const auth = c.RATESTORE_AUTH === "auto" ? (keys.length > 0 ? "keys" : "none") : c.RATESTORE_AUTH;
  if (auth === "none" && !isLoopback(c.HOST)) {
    throw new ConfigError(
      `no-auth mode is refused unless the service listens on loopback (HOST=${c.HOST}); configure RATESTORE_API_KEYS or RATESTORE_API_KEYS_FILE`,
    );
  }
  if (auth === "keys" && keys.length === 0)
    throw new ConfigError("RATESTORE_AUTH=keys but no key is configured (RATESTORE_API_KEYS or RATESTORE_API_KEYS_FILE)");
  return {
    port: c.PORT,
    host: c.HOST,
    api: {
      auth,
      keys,
      scopeKey: c.RATESTORE_SCOPE_KEY,
      ...(c.RATESTORE_CURSOR_SECRET ? { cursorSecret: c.RATESTORE_CURSOR_SECRET } : {}),
      maxBodyBytes: c.RATESTORE_MAX_BODY_BYTES,
    },
    logLevel: c.RATESTORE_LOG_LEVEL,
    startupWaitSeconds: c.RATESTORE_STARTUP_WAIT_SECONDS,
    storage: {
      backend: c.RATESTORE_BACKEND,
      cluster: {
        urls: c.RATESTORE_CLUSTER_URL ?? [`http://127.0.0.1:${c.RATESTORE_ENGINE_PORT}`],
        username: c.RATESTORE_CLUSTER_USERNAME,
        password: c.RATESTORE_CLUSTER_PASSWORD,
        tlsVerify: c.RATESTORE_CLUSTER_TLS_VERIFY === "true",
        ...(c.RATESTORE_CLUSTER_CA_FILE ? { ca: readCaFile(c.RATESTORE_CLUSTER_CA_FILE) } : {}),
        requestTimeoutMs: c.RATESTORE_CLUSTER_REQUEST_TIMEOUT_MS,
        profile: c.RATESTORE_CLUSTER_PROFILE ?? {},
      },
      indexPrefix: c.RATESTORE_INDEX_PREFIX,
      partition: c.RATESTORE_PARTITION,
      shards: c.RATESTORE_INDEX_SHARDS,
      replicas: c.RATESTORE_INDEX_REPLICAS === "auto" ? "auto" : Number(c.RATESTORE_INDEX_REPLICAS),
      refreshInterval: c.RATESTORE_REFRESH_INTERVAL,
      indexSort: c.RATESTORE_INDEX_SORT === "true",
      indexCodec: c.RATESTORE_INDEX_CODEC,
      cloudkittyFields: c.RATESTORE_CLOUDKITTY_FIELDS === "true",
      retentionHours: c.RATESTORE_RETENTION_HOURS,
      retentionMechanism: c.RATESTORE_RETENTION_MECHANISM,
      sweepIntervalSeconds: c.RATESTORE_SWEEP_INTERVAL_SECONDS,
      sweepGraceSeconds: c.RATESTORE_SWEEP_GRACE_SECONDS,
      rollups: {
        enabled: c.RATESTORE_ROLLUPS === "true",
        intervalSeconds: c.RATESTORE_ROLLUP_INTERVAL_SECONDS,
        quietSeconds: c.RATESTORE_ROLLUP_QUIET_SECONDS,
        marks: true,
      },
      bulk: {
        maxDocs: c.RATESTORE_BULK_MAX_DOCS,
        maxBytes: c.RATESTORE_BULK_MAX_BYTES,
        concurrency: c.RATESTORE_BULK_CONCURRENCY,
        retries: c.RATESTORE_BULK_RETRIES,
      },
    },
  };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** API keys from RATESTORE_API_KEYS (JSON) and RATESTORE_API_KEYS_FILE (a JSON file), both lists of ApiKeySchema. */
function loadApiKeys(inline: string | undefined, file: string | undefined): ApiKeyConfig[] {
  const sources: [string, string][] = [];
  if (inline) sources.push(["RATESTORE_API_KEYS", inline]);
  if (file) {
    try {
      sources.push([`RATESTORE_API_KEYS_FILE ${file}`, readFileSync(file, "utf8")]);
    } catch (err) {
      throw new ConfigError(`RATESTORE_API_KEYS_FILE ${file}: ${(err as Error).message}`);
    }
  }
  const keys: ApiKeyConfig[] = [];
  for (const [where, text] of sources) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ConfigError(`${where}: not valid JSON`);
    }
    const parsed = z.array(ApiKeySchema).safeParse(json);
    // Messages name the entry and field, never a key's value.
    if (!parsed.success)
      throw new ConfigError(`${where}: ${parsed.error.issues.map((i) => `[${i.path.join(".")}] ${i.message}`).join("; ")}`);
    keys.push(...parsed.data);
  }
  const names = new Set<string>();
  for (const k of keys) {
    if (names.has(k.name)) throw new ConfigError(`API key name ${JSON.stringify(k.name)} is used twice`);
    names.add(k.name);
  }
  return keys;
}
