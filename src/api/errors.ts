/** The one mapping of typed errors to HTTP statuses and JSON error bodies. */
import type { NextFunction, Request, Response } from "express";
import {
  BackendError,
  BackendUnavailableError,
  ForbiddenError,
  InexactTotalError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
  type FieldIssue,
} from "../errors.js";
import type { Logger } from "../logger.js";
import { PushInterruptedError, type PointFailure, type PushResult } from "../storage/backend.js";
import { pointPath } from "../storage/dataframe.js";

/** The JSON error body of every non-2xx answer. */
export interface ErrorBody {
  error: string;
  message: string;
  details: FieldIssue[];
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly details: FieldIssue[] = [],
    readonly headers: Record<string, string> = {},
    /** Members beyond the error shape (a push's accounting). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const pathOf = (f: PointFailure) => pointPath(f.dataframe, f.type, f.index);

/**
 * The answer to a push that did not store every point: each point not stored or unknown, by path, and
 * the counts. `details[].outcome` is `not_stored` or `unknown` (sent in a request that got no answer).
 */
export function pushFailure(status: number, error: string, message: string, result: PushResult): HttpError {
  const details = [
    ...result.failed.map((f) => ({ path: pathOf(f), message: `${f.status}: ${f.reason}`, outcome: "not_stored" })),
    ...result.unknown.map((f) => ({ path: pathOf(f), message: `${f.status}: ${f.reason}`, outcome: "unknown" })),
  ];
  return new HttpError(status, error, message, details, status === 503 ? { "Retry-After": "5" } : {}, {
    stored: result.stored,
    duplicates: result.duplicates,
    not_stored: result.failed.length,
    unknown: result.unknown.length,
  });
}

/** body-parser's own errors carry a `type` and a `status`. */
interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** The one place where errors become HTTP statuses. A client mistake is never a 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ValidationError) return new HttpError(400, "bad_request", err.message, [...err.issues]);
  if (err instanceof UnauthorizedError)
    return new HttpError(401, "unauthorized", err.message, [], { "WWW-Authenticate": 'Bearer realm="ratestore"' });
  if (err instanceof ForbiddenError) return new HttpError(403, "forbidden", err.message, [...err.issues]);
  if (err instanceof NotFoundError) return new HttpError(404, "not_found", err.message);
  if (err instanceof PushInterruptedError) return pushFailure(err.transient ? 503 : 502, "push_interrupted", err.message, err.result);
  if (err instanceof BackendUnavailableError)
    return new HttpError(503, "backend_unavailable", err.message, [], { "Retry-After": String(err.retryAfterSeconds) });
  if (err instanceof BackendError) return new HttpError(502, "backend_error", err.message);
  if (err instanceof InexactTotalError) return new HttpError(500, "inexact_total", err.message);
  const bp = err as BodyParserError;
  switch (bp?.type) {
    case "entity.too.large":
      return new HttpError(413, "payload_too_large", `request body is larger than the limit of ${bp.limit} bytes`);
    case "entity.parse.failed":
      return new HttpError(400, "bad_request", "request body is not valid JSON", [{ path: "(body)", message: "malformed JSON" }]);
    case "encoding.invalid":
      return new HttpError(400, "bad_request", "request body is not valid UTF-8", [
        { path: "(body)", message: "contains bytes that are not UTF-8" },
      ]);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new HttpError(415, "unsupported_media_type", "unsupported content encoding or charset");
    case "request.aborted":
      return new HttpError(400, "bad_request", "request aborted by the client");
  }
  if (typeof bp?.status === "number" && bp.status >= 400 && bp.status < 500)
    return new HttpError(bp.status, "bad_request", (err as Error).message);
  return new HttpError(500, "internal_error", "internal error");
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const http = toHttpError(err);
    const meta = { request_id: res.locals.requestId as string | undefined, method: req.method, path: req.path, status: http.status };
    if (http.status >= 500 && http.status !== 503)
      logger.error("request failed", { ...meta, error: err instanceof Error ? err.stack : String(err) });
    else logger.info("request refused", { ...meta, error: http.error, message: http.message });
    if (res.headersSent) {
      // A streamed answer that failed midway: the client sees a truncated body; nothing more can be said.
      res.destroy();
      return;
    }
    res
      .status(http.status)
      .set(http.headers)
      .json({ error: http.error, message: http.message, details: http.details, ...http.extra } satisfies ErrorBody);
  };
}
