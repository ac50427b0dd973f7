/** The summary route (CloudKitty's `GET /v2/summary`), streamed row by row. */
import { Router, type Request, type Response } from "express";
import type { TotalCursor, TotalRow } from "../../storage/backend.js";
import { TIME_GROUPS } from "../../storage/backend.js";
import type { Scalar } from "../../storage/dataframe.js";
import { ExactDecimal, stringifyExact } from "../exact-json.js";
import { formatTimestamp } from "../../storage/time.js";
import { parseOrThrow } from "../../validation.js";
import { principalOf, restrictToScope } from "../auth.js";
import type { AppContext } from "../context.js";
import { parseCustomFields, parseGroupby, selectionOf } from "../params.js";
import { streamObject } from "../stream.js";
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
    const selection = restrictToScope(principal, ctx.config.api.scopeKey, selectionOf(q, ctx.config.api.scopeKey));
    const fingerprint = JSON.stringify([principal.name, q.begin, q.end, q.filters, groupby]);
    const after = q.cursor ? cursors.decode(q.cursor, "groups", fingerprint) : undefined;
    const page = backend.streamTotal({
      ...selection,
      groupby,
      offset: q.offset,
      limit: q.limit,
      paginate: q.paginate === "true",
      ...(after
        ? {
            after: {
              key: after.after as TotalCursor["key"],
              position: after.position ?? 0,
              ...(after.total !== undefined ? { total: after.total } : {}),
            },
          }
        : {}),
    });
    const keys = groupby.filter((g) => !isTime(g));
    const columns = ["begin", "end", ...fields, ...keys];
    const valuesOf = (r: TotalRow): (Scalar | ExactDecimal)[] => [
      formatTimestamp(r.begin),
      formatTimestamp(r.end),
      ...fields.map((f) => new ExactDecimal(f === "qty" ? r.qty : r.rate)),
      ...keys.map((k) => r.groups[k] ?? null),
    ];
    const asObject = q.response_format === "object";
    // Rows are streamed as they are aggregated; the exact group count is known once they are all read.
    await streamObject(res, {
      head: asObject ? {} : { columns },
      key: "results",
      items: mapRows(page.rows, (r) =>
        stringifyExact(asObject ? Object.fromEntries(valuesOf(r).map((v, i) => [columns[i]!, v])) : valuesOf(r)),
      ),
      tail: async () => {
        const end = await page.end();
        return {
          total: end.total,
          format: q.response_format,
          ...(end.next
            ? {
                next: cursors.encode({
                  kind: "groups",
                  query: fingerprint,
                  after: end.next.key,
                  position: end.next.position,
                  ...(end.next.total !== undefined ? { total: end.next.total } : {}),
                }),
              }
            : {}),
        };
      },
    });
  });

  return router;
}

async function* mapRows(rows: AsyncIterable<TotalRow>, f: (r: TotalRow) => string): AsyncGenerator<string> {
  for await (const r of rows) yield f(r);
}
