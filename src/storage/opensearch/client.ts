import { Client, errors } from "@opensearch-project/opensearch";
import type { OpenSearchConfig } from "../../config.js";
import { BackendError, BackendUnavailableError } from "../../errors.js";

/**
 * The one door to the cluster. Requests go through the official client's transport (connection pool,
 * retries on dead connections, auth, TLS) with plain JSON bodies, so the same request bodies serve
 * OpenSearch and Elasticsearch; every failure leaves here as a typed error.
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

  constructor(readonly config: OpenSearchConfig) {
    this.client = new Client({
      node: config.url,
      ...(config.username ? { auth: { username: config.username, password: config.password ?? "" } } : {}),
      ssl: { rejectUnauthorized: config.tlsVerify },
      requestTimeout: config.requestTimeoutMs,
      // Retries live in one place, the writer's policy (backoff, metrics, logs); the transport's own
      // silent retries of 502/503/504 would hide them.
      maxRetries: 0,
    });
  }

  /** The URL without credentials, for logs. */
  get safeUrl(): string {
    try {
      const u = new URL(this.config.url);
      u.username = "";
      u.password = "";
      return u.toString();
    } catch {
      return "(invalid url)";
    }
  }

  /**
   * Sends a request. Statuses listed in `accept` come back as responses; any other error status
   * throws: BackendUnavailableError for transport failures and 429/502/503/504, BackendError otherwise.
   */
  async request<T = unknown>(req: ClusterRequest, accept: readonly number[] = []): Promise<ClusterResponse<T>> {
    try {
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
    } catch (err) {
      throw translateError(err, `${req.method} ${req.path}`);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export function translateError(err: unknown, what: string): Error {
  if (err instanceof errors.ResponseError) {
    const status = err.meta.statusCode ?? 0;
    const reason = errorReason(err.meta.body);
    if (TRANSIENT_STATUS.has(status)) return new BackendUnavailableError(`cluster is overloaded or unavailable (${status}) on ${what}: ${reason}`, 5, { cause: err });
    return new BackendError(`cluster rejected ${what} (${status}): ${reason}`, status, { cause: err });
  }
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) {
    return new BackendUnavailableError(`cluster unreachable on ${what}: ${err.message}`, 5, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
