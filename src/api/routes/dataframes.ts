import { Router, type Request, type Response } from "express";
import { dataFrameToOutput, pointsWithIndex, type DataFrame } from "../../storage/dataframe.js";
import { ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from "../../errors.js";
import { parseOrThrow } from "../../validation.js";
import type { AppContext } from "../context.js";
import { principalOf, scopedGroupFilters, type Principal } from "../auth.js";
import { HttpError } from "../errors.js";
import { scopeOf } from "../params.js";
import { DataframesQuerySchema, ExportQuerySchema, PushBodySchema } from "../schemas.js";
import { framesOf } from "../../storage/frames.js";
import { streamDataframesObject, streamNdjson } from "../stream.js";

const pointPath = (df: number, type: string, index: number) => `dataframes[${df}].usage.${type}[${index}]`;

/** A project key may only push points that carry its own scope. */
function checkPushScope(principal: Principal, scopeKey: string, dataframes: readonly DataFrame[]): void {
  if (principal.role === "admin") return;
  const issues: FieldIssue[] = [];
  dataframes.forEach((df, i) => {
    for (const [p, index] of pointsWithIndex(df)) {
      const value = p.groupby[scopeKey];
      if (value === undefined || String(value) !== principal.scope) {
        issues.push({ path: `${pointPath(i, p.type, index)}.groupby.${scopeKey}`, message: `must be ${JSON.stringify(principal.scope)} for this key` });
      }
    }
  });
  if (issues.length > 0) throw new ForbiddenError(`this key may only push data of ${scopeKey}=${principal.scope}; ${issues.length} point(s) are outside it`, issues.slice(0, 100));
}

export function dataframesRouter(ctx: AppContext): Router {
  const router = Router();
  const { backend, cursors } = ctx;
  const scopeKey = ctx.config.api.scopeKey;

  router.post("/v2/dataframes", async (req: Request, res: Response) => {
    if (!req.is("application/json")) throw new HttpError(415, "unsupported_media_type", "send the dataframes as application/json");
    const body: unknown = req.body;
    if (typeof body === "object" && body !== null && Array.isArray((body as { dataframes?: unknown }).dataframes) && (body as { dataframes: unknown[] }).dataframes.length === 0) {
      throw ValidationError.forField("dataframes", "Parameter dataframes must not be empty.");
    }
    const { dataframes } = parseOrThrow(PushBodySchema, body, "dataframes");
    checkPushScope(principalOf(res), scopeKey, dataframes);
    const result = await backend.push(dataframes);
    if (result.failed.length === 0) {
      res.status(204).end();
      return;
    }
    // Some points were not stored: say exactly which. A retry of the whole request is safe (deterministic ids).
    const transient = result.failed.some((f) => f.status === 429 || f.status >= 500);
    res.status(transient ? 503 : 422);
    if (transient) res.set("Retry-After", "5");
    res.json({
      error: "points_not_stored",
      message: `${result.failed.length} of ${result.points} points were not stored; the other ${result.stored + result.duplicates} are. Pushing the same dataframes again is safe: nothing is stored twice.`,
      details: result.failed.map((f) => ({ path: pointPath(f.dataframe, f.type, f.index), message: `${f.status}: ${f.reason}` })),
      stored: result.stored,
      duplicates: result.duplicates,
    });
  });

  router.get("/v2/dataframes", async (req: Request, res: Response) => {
    const q = parseOrThrow(DataframesQuerySchema, req.query, "query parameters");
    const principal = principalOf(res);
    const scope = { ...scopeOf(q), groupFilters: scopedGroupFilters(principal, scopeKey, undefined) };
    if (q.paginate === "false") {
      const { total } = await backend.retrieve({ ...scope, limit: 1 });
      if (total === 0) throw new NotFoundError("no dataframes match");
      await streamDataframesObject(res, total, framesOf(backend.iteratePoints(scope)));
      return;
    }
    const fingerprint = JSON.stringify([principal.name, q.begin, q.end, q.filters]);
    const after = q.cursor ? (cursors.decode(q.cursor, "points", fingerprint).after as (string | number)[]) : undefined;
    const result = await backend.retrieve({ ...scope, offset: q.offset, limit: q.limit, ...(after ? { after } : {}) });
    if (result.total === 0) throw new NotFoundError("no dataframes match");
    res.json({
      total: result.total,
      dataframes: result.dataframes.map(dataFrameToOutput),
      ...(result.next ? { next: cursors.encode({ kind: "points", query: fingerprint, after: result.next }) } : {}),
    });
  });

  /** Every matching point as NDJSON dataframes, streamed: memory does not grow with the result. */
  router.get("/v2/dataframes/export", async (req: Request, res: Response) => {
    const q = parseOrThrow(ExportQuerySchema, req.query, "query parameters");
    const scope = { ...scopeOf(q), groupFilters: scopedGroupFilters(principalOf(res), scopeKey, undefined) };
    await streamNdjson(res, framesOf(backend.iteratePoints(scope)));
  });

  return router;
}
