import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A pass-through HTTP proxy in front of the real node that injects the failures a busy cluster
 * produces: whole `_bulk` requests answered 503 without reaching the node, `_bulk` items that the
 * node stored but that the proxy reports as 429 (so a retry meets a 409, as after a lost response),
 * `_refresh` answers that report a shard copy not refreshed, and requests or answers held for a while.
 */
export interface Faults {
  /** Fail this many `_bulk` requests with 503 before passing any through. */
  bulk503: number;
  /** In this many passed-through `_bulk` responses, report every other item as 429. */
  bulkItems429: number;
  /** In this many passed-through `_refresh` responses, report one shard copy as failed (as the node does when one could not refresh). */
  refreshShardFailures?: number;
  /**
   * Requests to a path (`/_bulk`, `/_mget`) held `ms` before they are passed to the node (`before`: a
   * queue in front of a slow cluster) or whose answer is held `ms` after the node gave it (`after`: a
   * slow network), for the first `count` of them. Held requests are passed on even when the client has
   * given up on them, as a cluster carries out what it has received.
   */
  delays?: { path: string; method?: string; when: "before" | "after"; ms: number; count: number }[];
  /** The bulk requests `bulk503` and `bulkItems429` apply to (see `matches`): the writer's `/_bulk` unless set. */
  bulkPath?: string;
  /** Requests to a path that are never answered nor passed on (a client that dies while waiting on them), the first `count`. */
  swallow?: { path: string; method?: string; count: number }[];
}

/**
 * Whether a fault's path names a request's path: a path starting with `/_` names one of the cluster's
 * own endpoints (`/_bulk`, `/_mget`: the writer's, not an index's `/<index>/_bulk`) and matches it
 * exactly; any other matches the end of the request's path (`""` matches every path).
 */
function matches(pattern: string, url: string): boolean {
  const path = url.split("?")[0]!;
  return pattern.startsWith("/_") ? path === pattern : path.endsWith(pattern);
}

export async function startFaultProxy(
  target: string,
  faults: Faults,
): Promise<{ url: string; seen: { bulk: number; mget: number; requests: string[] }; close(): Promise<void> }> {
  const upstream = new URL(target);
  const seen = { bulk: 0, mget: 0, requests: [] as string[] };
  const delayOf = (method: string, url: string, when: "before" | "after") => {
    const d = (faults.delays ?? []).find((x) => x.when === when && x.count > 0 && (x.method ?? method) === method && matches(x.path, url));
    if (!d) return 0;
    d.count--;
    return d.ms;
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void handle());
    const handle = async () => {
      const isBulk = matches(faults.bulkPath ?? "/_bulk", req.url ?? "");
      const isRefresh = (req.url ?? "").split("?")[0]!.endsWith("/_refresh");
      if (isBulk) seen.bulk++;
      if (matches("/_mget", req.url ?? "")) seen.mget++;
      seen.requests.push(`${req.method} ${(req.url ?? "").split("?")[0]}`);
      const swallowed = (faults.swallow ?? []).find(
        (x) => x.count > 0 && (x.method ?? req.method) === req.method && matches(x.path, req.url ?? ""),
      );
      if (swallowed) {
        swallowed.count--;
        return;
      }
      const before = delayOf(req.method ?? "GET", req.url ?? "", "before");
      if (before > 0) await new Promise((r) => setTimeout(r, before));
      const after = delayOf(req.method ?? "GET", req.url ?? "", "after");
      if (isBulk && faults.bulk503 > 0) {
        faults.bulk503--;
        res.writeHead(503, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { type: "unavailable", reason: "injected by the test proxy" }, status: 503 }));
        return;
      }
      const up = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (upRes: IncomingMessage) => {
          const body: Buffer[] = [];
          upRes.on("data", (c: Buffer) => body.push(c));
          upRes.on("end", () => {
            let out = Buffer.concat(body);
            if (isBulk && faults.bulkItems429 > 0 && upRes.statusCode === 200) {
              faults.bulkItems429--;
              const parsed = JSON.parse(out.toString("utf8")) as {
                errors: boolean;
                items: Record<string, { status: number; error?: unknown }>[];
              };
              parsed.items.forEach((item, i) => {
                if (i % 2 === 0) return;
                const op = Object.values(item)[0]!;
                op.status = 429;
                op.error = { type: "es_rejected_execution_exception", reason: "injected by the test proxy" };
              });
              parsed.errors = true;
              out = Buffer.from(JSON.stringify(parsed));
            }
            if (isRefresh && (faults.refreshShardFailures ?? 0) > 0 && upRes.statusCode === 200) {
              faults.refreshShardFailures!--;
              const parsed = JSON.parse(out.toString("utf8")) as {
                _shards: { total: number; successful: number; failed: number; failures?: unknown[] };
              };
              parsed._shards.successful = Math.max(0, parsed._shards.successful - 1);
              parsed._shards.failed += 1;
              parsed._shards.failures = [{ shard: 0, reason: { type: "illegal_state_exception", reason: "injected by the test proxy" } }];
              out = Buffer.from(JSON.stringify(parsed));
            }
            const headers = { ...upRes.headers, "content-length": String(out.length) };
            delete headers["content-encoding"];
            // The body is sent whole, with its length: a chunked upstream answer (Elasticsearch 8) must not say so too.
            delete headers["transfer-encoding"];
            const answer = () => {
              res.writeHead(upRes.statusCode ?? 502, headers);
              res.end(out);
            };
            if (after > 0) setTimeout(answer, after);
            else answer();
          });
        },
      );
      up.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      up.end(Buffer.concat(chunks));
    };
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
