/** The dataframe routes: push, read (paged, streamed, exported), delete and refresh. */
import { Router, type Request, type Response } from "express";
import type { StoredPoint } from "../../storage/backend.js";
import { pointPath, pointsWithIndex, type DataFrame } from "../../storage/dataframe.js";
import { ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from "../../errors.js";
import { parseOrThrow } from "../../validation.js";
import type { AppContext } from "../context.js";
import { principalOf, restrictToScope, type Principal } from "../auth.js";
import { HttpError, pushFailure } from "../errors.js";
import { selectionOf } from "../params.js";
import { DataframesQuerySchema, DeleteQuerySchema, ExportQuerySchema, PushBodySchema, PushQuerySchema } from "../schemas.js";
import { framesOf, framesOfPage } from "../../storage/frames.js";
import { dataFrameJson, dataFramesNdjson } from "../../storage/dataframe-json.js";
import { streamNdjson, streamObject } from "../stream.js";

/** A project key may only push points that carry its own scope. */
function checkPushScope(principal: Principal, scopeKey: string, dataframes: readonly DataFrame[]): void {
  if (principal.role === "admin") return;
  const issues: FieldIssue[] = [];
  dataframes.forEach((df, i) => {
    for (const [p, index] of pointsWithIndex(df)) {
      const value = p.groupby[scopeKey];
      if (value === undefined || String(value) !== principal.scope) {
        issues.push({
          path: `${pointPath(i, p.type, index)}.groupby.${scopeKey}`,
          message: `must be ${JSON.stringify(principal.scope)} for this key`,
        });
      }
    }
  });
  if (issues.length > 0)
    throw new ForbiddenError(
      `this key may only push data of ${scopeKey}=${principal.scope}; ${issues.length} point(s) are outside it`,
      issues.slice(0, 100),
    );
}

/** Admin only: deleting rating data is the operator's act (CloudKitty's API gives projects no delete either). */
function requireAdmin(principal: Principal, what: string): void {
  if (principal.role !== "admin") throw new ForbiddenError(`${what} needs an admin key`);
}

export function dataframesRouter(ctx: AppContext): Router {
  const router = Router();
  const { backend, operations, cursors } = ctx;
  const scopeKey = ctx.config.api.scopeKey;

  router.post("/v2/dataframes", async (req: Request, res: Response) => {
    if (!req.is("application/json")) throw new HttpError(415, "unsupported_media_type", "send the dataframes as application/json");
    const { refresh } = parseOrThrow(PushQuerySchema, req.query, "query parameters");
    const body: unknown = req.body;
    if (
      typeof body === "object" &&
      body !== null &&
      Array.isArray((body as { dataframes?: unknown }).dataframes) &&
      (body as { dataframes: unknown[] }).dataframes.length === 0
    ) {
      throw ValidationError.forField("dataframes", "Parameter dataframes must not be empty.");
    }
    const { dataframes } = parseOrThrow(PushBodySchema, body, "dataframes");
    checkPushScope(principalOf(res), scopeKey, dataframes);
    const result = await backend.push(dataframes, { refresh: refresh === "wait_for" ? "wait_for" : refresh === "true" });
    if (result.failed.length === 0) {
      res.status(204).end();
      return;
    }
    // Some points were not stored: say exactly which. A retry of the whole request is safe (deterministic ids).
    const transient = result.failed.some((f) => f.status === 429 || f.status >= 500);
    throw pushFailure(
      transient ? 503 : 422,
      "points_not_stored",
      `${result.failed.length} of ${result.points} points were not stored; the other ${result.stored + result.duplicates} are. Pushing the same dataframes again is safe: nothing is stored twice.`,
      result,
    );
  });

  /** Makes every stored point visible now to readers outside the API (reads through it always see them): the end of a bulk load. */
  router.post("/v2/refresh", async (_req: Request, res: Response) => {
    await operations.refresh();
    res.status(204).end();
  });

  router.get("/v2/dataframes", async (req: Request, res: Response) => {
    const q = parseOrThrow(DataframesQuerySchema, req.query, "query parameters");
    const principal = principalOf(res);
    const selection = restrictToScope(principal, scopeKey, selectionOf(q, scopeKey));
    if (q.paginate === "false") {
      const { total } = await backend.streamPage({ ...selection, limit: 1 });
      if (total === 0) throw new NotFoundError("no dataframes match");
      await streamObject(res, {
        head: { total },
        key: "dataframes",
        items: framesJson(backend.iteratePoints(selection)),
        tail: async () => ({}),
      });
      return;
    }
    const fingerprint = JSON.stringify([principal.name, q.begin, q.end, q.filters]);
    const after = q.cursor ? (cursors.decode(q.cursor, "points", fingerprint).after as (string | number)[]) : undefined;
    const page = await backend.streamPage({ ...selection, offset: q.offset, limit: q.limit, ...(after ? { after } : {}) });
    if (page.total === 0) throw new NotFoundError("no dataframes match");
    await streamObject(res, {
      head: { total: page.total },
      key: "dataframes",
      items: framesJson(page.points),
      tail: async () => {
        const next = page.next();
        return next ? { next: cursors.encode({ kind: "points", query: fingerprint, after: next }) } : {};
      },
    });
  });

  /** CloudKitty's `delete(begin, end, filters)`, with every filter honoured (metadata keys and `type:` included). */
  router.delete("/v2/dataframes", async (req: Request, res: Response) => {
    requireAdmin(principalOf(res), "deleting dataframes");
    const q = parseOrThrow(DeleteQuerySchema, req.query, "query parameters");
    const { deleted } = await backend.delete(selectionOf(q, scopeKey));
    res.json({ deleted });
  });

  /** Every matching point as NDJSON dataframes, streamed: memory does not grow with the result. */
  router.get("/v2/dataframes/export", async (req: Request, res: Response) => {
    const q = parseOrThrow(ExportQuerySchema, req.query, "query parameters");
    const selection = restrictToScope(principalOf(res), scopeKey, selectionOf(q, scopeKey));
    await streamNdjson(res, exportLines(backend.scanPoints(selection)));
  });

  return router;
}

/** Points in order, as the JSON text of CloudKitty output dataframes of at most MAX_POINTS_PER_FRAME points. */
async function* framesJson(points: AsyncIterable<StoredPoint>): AsyncGenerator<string> {
  for await (const df of framesOf(points)) yield dataFrameJson(df);
}

/** Pages of points as NDJSON dataframes, a page's text at a time. */
async function* exportLines(pages: AsyncIterable<readonly StoredPoint[]>): AsyncGenerator<string> {
  for await (const page of pages) yield dataFramesNdjson(framesOfPage(page));
}
