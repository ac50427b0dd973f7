/**
 * The Express application: request ids, metrics and logs, the URL and body checks, the routes, and
 * JSON errors.
 */
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { ValidationError } from "../errors.js";
import { strictJsonIssues } from "../strict-json.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { OperatedBackend } from "../storage/backend.js";
import { authenticate, KeyStore } from "./auth.js";
import type { AppContext } from "./context.js";
import { CursorCodec } from "./cursor.js";
import type { Metrics } from "./metrics.js";
import { errorHandler, HttpError } from "./errors.js";
import { dataframesRouter } from "./routes/dataframes.js";
import { healthRouter } from "./routes/health.js";
import { summaryRouter } from "./routes/summary.js";

export type { AppContext } from "./context.js";

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Request id (the caller's X-Request-Id when sane), latency metric and one structured log line per request. */
function observe(ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.get("x-request-id");
    const id = given && REQUEST_ID_RE.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.set("X-Request-Id", id);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
      ctx.metrics.observe(route, req.method, res.statusCode, seconds);
      ctx.logger.http("request", {
        request_id: id,
        method: req.method,
        route,
        status: res.statusCode,
        duration_ms: Math.round(seconds * 1000),
        principal: (res.locals.principal as { name?: string } | undefined)?.name,
      });
    });
    next();
  };
}

/**
 * Refuses a body that would be read as something other than what was sent: bytes that are not UTF-8
 * (decoded, they would become U+FFFD in stored labels, silently), and what JSON.parse alters without a
 * word (src/strict-json.ts: duplicate keys, lone surrogates, numbers a double does not keep).
 */
function refuseAlteredBody(_req: Request, _res: Response, body: Buffer): void {
  if (!isUtf8(body)) throw Object.assign(new Error("request body is not valid UTF-8"), { status: 400, type: "encoding.invalid" });
  const issues = strictJsonIssues(body.toString("utf8"));
  if (issues.length > 0)
    throw new ValidationError(
      `Invalid request body: ${issues[0]!.path}: ${issues[0]!.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
      issues,
    );
}

/**
 * Percent-escapes that are not UTF-8 (`%ED%A0%80`, a lone surrogate's bytes, or `%FF`) are refused: the
 * query parser would decode them as U+FFFD, and a filter would then ask for a value never sent.
 */
function refuseAlteredQuery(url: string): void {
  const q = url.indexOf("?");
  if (q < 0) return;
  for (const run of url.slice(q + 1).match(/(?:%[0-9A-Fa-f]{2})+/g) ?? []) {
    if (!isUtf8(Buffer.from(run.replace(/%/g, ""), "hex"))) {
      throw new HttpError(400, "bad_request", "the query string is not valid UTF-8 once percent-decoded", [
        { path: "(query)", message: `${run} is not UTF-8` },
      ]);
    }
  }
}

/** Longest request target served; a longer one is answered 414, in JSON like every error. */
export const MAX_URL_LENGTH = 16 * 1024;

/**
 * The service's app over one backend that serves both the contract and the operator's work, its page
 * cursors signed with the configured secret: the wiring the service runs and the tests serve.
 */
export function serviceApp(
  config: Config,
  backend: OperatedBackend,
  logger: Logger,
  metrics: Metrics,
  cluster: AppContext["cluster"],
): Express {
  return createApp({ config, backend, operations: backend, logger, cursors: new CursorCodec(config.api.cursorSecret), metrics, cluster });
}

export function createApp(ctx: AppContext, version = "0.1.0"): Express {
  const app = express();
  ctx.metrics.readStatsFrom(() => ctx.operations.writeStats());
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(observe(ctx));
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.originalUrl.length > MAX_URL_LENGTH)
      throw new HttpError(414, "uri_too_long", `the request target is longer than ${MAX_URL_LENGTH} characters; narrow the query`);
    refuseAlteredQuery(req.originalUrl);
    next();
  });
  app.use(healthRouter(ctx, version));
  app.use("/v2", authenticate(new KeyStore(ctx.config.api)));
  app.use(
    express.json({
      limit: ctx.config.api.maxBodyBytes,
      strict: false,
      type: ["application/json", "application/*+json"],
      verify: refuseAlteredBody,
    }),
  );
  app.use(dataframesRouter(ctx));
  app.use(summaryRouter(ctx));
  app.use((req: Request) => {
    throw new HttpError(404, "not_found", `no route ${req.method} ${req.path}`);
  });
  app.use(errorHandler(ctx.logger));
  return app;
}
