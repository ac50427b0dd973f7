/** The cluster client: requests with failover between URLs, and errors typed by what they mean. */
import { Client, errors } from "@opensearch-project/opensearch";
import type { ClusterConfig } from "../../config.js";
import { BackendError, BackendUnavailableError } from "../../errors.js";

/**
 * The one door to the cluster. Requests go through the official client's transport (connection pool,
 * auth, TLS) with plain JSON bodies, so the same request bodies serve OpenSearch and Elasticsearch;
 * every failure leaves here as a typed error. With several URLs, a request that cannot connect is sent
 * to the next node: the pool marks the dead one and stops choosing it until it answers again.
 */

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "HEAD";

export interface ClusterRequest {
  readonly method: HttpMethod;
  readonly path: string;
  readonly body?: unknown;
  /** A ready NDJSON body for `_bulk` (each line serialized once, by the writer). */
  readonly bulkBody?: string;
  readonly querystring?: Readonly<Record<string, string | number | boolean>>;
}

export interface ClusterResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** The shape of an error body from OpenSearch/Elasticsearch. */
interface ErrorBody {
  error?: { type?: string; reason?: string; root_cause?: { type?: string; reason?: string }[] } | string;
}

const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

export function errorReason(body: unknown): string {
  // The security plugin answers a refused login with a plain-text body ("Unauthorized").
  if (typeof body === "string" && body.trim() !== "") return body.trim();
  const b = body as ErrorBody | undefined;
  if (!b || b.error === undefined) return "unknown error";
  if (typeof b.error === "string") return b.error;
  const root = b.error.root_cause?.[0];
  const type = b.error.type ?? root?.type;
  const reason = b.error.reason ?? root?.reason;
  return [type, reason].filter(Boolean).join(": ") || "unknown error";
}

export class ClusterClient {
  private readonly client: Client;

  constructor(readonly config: ClusterConfig) {
    this.client = new Client({
      nodes: [...config.urls],
      ...(config.username ? { auth: { username: config.username, password: config.password ?? "" } } : {}),
      ssl: { rejectUnauthorized: config.tlsVerify, ...(config.ca ? { ca: config.ca } : {}) },
      requestTimeout: config.requestTimeoutMs,
      // Retries live in one place, the family's retry policy (retry-policy.ts: backoff, metrics, logs);
      // the transport's own silent retries of 502/503/504 would hide them.
      maxRetries: 0,
      // The client's default (secure-json-parse) refuses a whole response holding a "__proto__" key: one
      // such label in a CloudKitty index stopped `ratestore migrate` instead of going to its reject file,
      // and the scan for it took a third of an export page's parse (BENCHMARKS.md, *The figures behind
      // the code*: the JSON parser). JSON.parse
      // never sets a prototype (it keeps "__proto__" as an own key), and such keys are refused where
      // documents are read into points or written (validation.ts).
      disablePrototypePoisoningProtection: true,
    });
  }

  /** The URLs without credentials, for logs. */
  get safeUrls(): string[] {
    return this.config.urls.map((url) => {
      try {
        const u = new URL(url);
        u.username = "";
        u.password = "";
        return u.toString();
      } catch {
        return "(invalid url)";
      }
    });
  }

  /**
   * Sends a request. Statuses listed in `accept` come back as responses; any other error status
   * throws: BackendUnavailableError for transport failures and 429/502/503/504, BackendError otherwise.
   */
  async request<T = unknown>(req: ClusterRequest, accept: readonly number[] = []): Promise<ClusterResponse<T>> {
    // Only a refused or dropped connection moves on to another node: the request may have been applied
    // (every write here is idempotent: `create` by content id, deletes by id), but a timeout or an error
    // status is the cluster's answer and stays one.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send<T>(req, accept);
      } catch (err) {
        if (!(err instanceof errors.ConnectionError) || attempt >= this.config.urls.length)
          throw translateError(err, `${req.method} ${req.path}`, this.config.username);
      }
    }
  }

  private async send<T>(req: ClusterRequest, accept: readonly number[]): Promise<ClusterResponse<T>> {
    const res = await this.client.transport.request(
      {
        method: req.method,
        path: req.path,
        ...(req.body !== undefined ? { body: req.body as Record<string, unknown> } : {}),
        ...(req.bulkBody !== undefined ? { bulkBody: req.bulkBody } : {}),
        querystring: { ...(req.querystring ?? {}) },
      },
      { ignore: [...accept] },
    );
    return { status: res.statusCode ?? 200, body: res.body as T };
  }

  /** Closes the connections; a second call waits for the first (the client's own close never settles twice). */
  close(): Promise<void> {
    this.closed ??= this.client.close();
    return this.closed;
  }
  private closed: Promise<void> | undefined;
}

/** Node's TLS verification failures: the cluster's certificate is not trusted, or not for this host. */
const UNTRUSTED_CERTIFICATE = /certificate|self[- ]signed|altnames/i;

/**
 * A cluster error as a typed error whose message names the cause and the setting to check. Refused
 * credentials, a missing permission and an untrusted certificate are not transient: they stop the start
 * at once (main.ts waits only for an unreachable cluster) and are answered 502, not retried.
 */
export function translateError(err: unknown, what: string, user?: string): Error {
  if (err instanceof errors.ResponseError) {
    const status = err.meta.statusCode ?? 0;
    const reason = errorReason(err.meta.body);
    if (TRANSIENT_STATUS.has(status))
      return new BackendUnavailableError(`cluster is overloaded or unavailable (${status}) on ${what}: ${reason}`, 5, {
        cause: err,
        status,
      });
    if (status === 401) {
      const who = user ? `the user ${user} and its password` : "no credentials (the cluster asks for them)";
      return new BackendError(
        `cluster refused the credentials (401) on ${what}: sent ${who}; check RATESTORE_CLUSTER_USERNAME and RATESTORE_CLUSTER_PASSWORD`,
        status,
        { cause: err },
      );
    }
    if (status === 403 && /security_exception|no permissions/i.test(reason)) {
      return new BackendError(
        `cluster user ${user ?? "(anonymous)"} lacks a permission (403) on ${what}: ${reason}; grant it to the user's role (docs/security.md lists what ratestore needs)`,
        status,
        { cause: err },
      );
    }
    return new BackendError(`cluster rejected ${what} (${status}): ${reason}`, status, { cause: err });
  }
  if (err instanceof errors.ConnectionError && UNTRUSTED_CERTIFICATE.test(err.message)) {
    return new BackendError(
      `cluster certificate not trusted on ${what}: ${err.message}; set RATESTORE_CLUSTER_CA_FILE to the PEM file of the CA that signed it ` +
        `(RATESTORE_CLUSTER_TLS_VERIFY=false turns verification off, which lets anyone in the middle read the data and the credentials)`,
      undefined,
      { cause: err },
    );
  }
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) {
    return new BackendUnavailableError(`cluster unreachable on ${what}: ${err.message}`, 5, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
