import { Router, type Request, type Response } from "express";
import type { GroupCursor, TotalRow } from "../../storage/backend.js";
import { TIME_GROUPS } from "../../storage/backend.js";
import type { Scalar } from "../../storage/dataframe.js";
import { nanosToNumber } from "../../storage/decimal.js";
import { formatTimestamp } from "../../storage/time.js";
import { parseOrThrow } from "../../validation.js";
import { principalOf, scopedGroupFilters } from "../auth.js";
import type { AppContext } from "../context.js";
import { parseCustomFields, parseGroupby, scopeOf } from "../params.js";
import { SummaryQuerySchema } from "../schemas.js";

const isTime = (g: string) => (TIME_GROUPS as readonly string[]).includes(g);

export function summaryRouter(ctx: AppContext): Router {
  const router = Router();
  const { backend, cursors } = ctx;

  router.get("/v2/summary", async (req: Request, res: Response) => {
    const q = parseOrThrow(SummaryQuerySchema, req.query, "query parameters");
    const principal = principalOf(res);
    const groupby = parseGroupby(q.groupby);
    const fields = parseCustomFields(q.custom_fields);
    const base = scopeOf(q);
    const scope = { ...base, groupFilters: scopedGroupFilters(principal, ctx.config.api.scopeKey, undefined) };
    const fingerprint = JSON.stringify([principal.name, q.begin, q.end, q.filters, groupby]);
    const after = q.cursor ? cursors.decode(q.cursor, "groups", fingerprint) : undefined;
    const result = await backend.total({
      ...scope,
      groupby,
      offset: q.offset,
      limit: q.limit,
      ...(after ? { after: { key: after.after as GroupCursor["key"], position: after.position ?? 0 } } : {}),
    });
    const keys = groupby.filter((g) => !isTime(g));
    const columns = ["begin", "end", ...fields, ...keys];
    const valuesOf = (r: TotalRow): Scalar[] => [
      formatTimestamp(r.begin),
      formatTimestamp(r.end),
      ...fields.map((f) => nanosToNumber(f === "qty" ? r.qty : r.rate)),
      ...keys.map((k) => r.groups[k] ?? null),
    ];
    const next = result.next ? { next: cursors.encode({ kind: "groups", query: fingerprint, after: result.next.key, position: result.next.position }) } : {};
    if (q.response_format === "object") {
      res.json({ total: result.total, results: result.results.map((r) => Object.fromEntries(valuesOf(r).map((v, i) => [columns[i]!, v]))), format: "object", ...next });
    } else {
      res.json({ total: result.total, columns, results: result.results.map(valuesOf), format: "table", ...next });
    }
  });

  return router;
}
