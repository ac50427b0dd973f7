/** The zod schemas of the API: the single source of its types, its validation and its OpenAPI document. */
import { z } from "zod";
import { DataFrameInputSchema } from "../storage/dataframe.js";
import { MAX_LIMIT } from "../storage/backend.js";
import { LABEL_KEY_RE } from "../storage/dataframe.js";
import { TIMESTAMP_DESCRIPTION, TIMESTAMP_PATTERNS } from "../storage/time.js";

/**
 * The API's wire format. These schemas validate requests, type the handlers, and generate
 * /openapi.json: one definition for all three.
 */

const Timestamp = z.string().meta({
  description: TIMESTAMP_DESCRIPTION,
  example: "2024-03-01T00:00:00Z",
  anyOf: TIMESTAMP_PATTERNS.map((pattern) => ({ pattern })),
});
/** One `key:value` pair, or several comma-separated: keys as groupby keys are written; values without commas. */
const FILTER_PATTERN = `^${LABEL_KEY_RE.source.slice(1, -1)}:[^,]*(,${LABEL_KEY_RE.source.slice(1, -1)}:[^,]*)*$`;
const Filters = z.union([z.string().meta({ pattern: FILTER_PATTERN }), z.array(z.string().meta({ pattern: FILTER_PATTERN }))]).meta({
  description:
    "key:value pairs, comma-separated or repeated; a key given twice matches either value. `type:<metric>` selects metric types; " +
    "the scope key (project_id) matches groupby only; other keys match a groupby or a metadata key, as in CloudKitty.",
  example: "project_id:8f0c,type:instance",
});
const GROUPBY_PATTERN = `^(${LABEL_KEY_RE.source.slice(1, -1)})(,(${LABEL_KEY_RE.source.slice(1, -1)}))*$`;
const Offset = z.coerce.number().int().min(0).default(0).meta({ description: "Number of results to skip" });
const Limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(MAX_LIMIT)
  .default(100)
  .meta({ description: `Results per page (1-${MAX_LIMIT}); large pages are streamed, so memory does not grow with the limit` });
const Paginate = z.enum(["true", "false"]).default("true");
const Cursor = z.string().max(4096).meta({
  description: "The `next` value of the previous page: continues with no offset cost. Repeat the other parameters of the first page.",
});

export const DataframesQuerySchema = z.strictObject({
  begin: Timestamp.optional(),
  end: Timestamp.optional(),
  filters: Filters.optional(),
  offset: Offset,
  limit: Limit,
  cursor: Cursor.optional(),
  paginate: Paginate.meta({ description: "false: every matching dataframe, streamed (offset and limit are ignored)" }),
});
export type DataframesQuery = z.output<typeof DataframesQuerySchema>;

export const ExportQuerySchema = z.strictObject({
  begin: Timestamp.optional(),
  end: Timestamp.optional(),
  filters: Filters.optional(),
});

export const DeleteQuerySchema = ExportQuerySchema.meta({
  description: "Points with start >= begin and end <= end (no default window: without begin and end, all time) matching every filter",
});

export const PushQuerySchema = z.strictObject({
  refresh: z
    .enum(["true", "false", "wait_for"])
    .default("false")
    .meta({
      description:
        "Reads through this API see the points as soon as the push answers, on every instance, whatever this says (each read first refreshes what it reads). " +
        "This is for readers of the indices that do not go through the API (Dashboards, Kibana). false (default): they see the points within the refresh interval. " +
        "true: before the answer. wait_for: the answer waits for the next scheduled refresh.",
    }),
});

export const SummaryQuerySchema = z.strictObject({
  begin: Timestamp.optional(),
  end: Timestamp.optional(),
  groupby: z
    .union([z.string().meta({ pattern: GROUPBY_PATTERN }), z.array(z.string().meta({ pattern: GROUPBY_PATTERN }))])
    .optional()
    .meta({
      description:
        "Comma-separated or repeated: groupby keys, `type`, `time` (each period), `time-d`, `time-w`, `time-m`, `time-y` (calendar buckets)",
      example: "type,project_id",
    }),
  filters: Filters.optional(),
  offset: Offset,
  limit: Limit,
  cursor: Cursor.optional(),
  paginate: Paginate.meta({ description: "false: every group, streamed (offset and limit are ignored)" }),
  response_format: z.enum(["table", "object"]).default("table"),
  custom_fields: z.string().max(1024).optional().meta({
    description: "Which sums to return: `qty`, `rate` (CloudKitty's `SUM(qty) AS qty, SUM(price) AS rate` is accepted too)",
    pattern:
      "^ *(qty|rate|price|SUM\\(qty\\) AS qty|SUM\\(price\\) AS rate) *(, *(qty|rate|price|SUM\\(qty\\) AS qty|SUM\\(price\\) AS rate) *)*$",
  }),
});
export type TotalQuery = z.output<typeof SummaryQuerySchema>;

export const PushBodySchema = z.strictObject({
  dataframes: z
    .array(DataFrameInputSchema)
    .min(1, "Parameter dataframes must not be empty.")
    .meta({ description: "CloudKitty dataframes; each point of each is stored once, whatever the retries" }),
});

const ScalarOut = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Amount = z.number().meta({
  description:
    "The exact stored decimal (at most 9 decimal places), written as a JSON number literal: parse it as a decimal to get it exactly",
});
const PointOut = z.object({
  vol: z.object({ unit: z.string(), qty: Amount }),
  rating: z.object({ price: Amount }),
  groupby: z.record(z.string(), ScalarOut),
  metadata: z.record(z.string(), ScalarOut),
});
export const DataFrameOutSchema = z.object({
  period: z.object({ begin: z.string(), end: z.string() }),
  usage: z.record(z.string(), z.array(PointOut)),
});
const Next = z.string().optional().meta({ description: "Cursor of the next page; absent on the last page" });

export const DataframesResponseSchema = z.object({ total: z.number().int(), dataframes: z.array(DataFrameOutSchema), next: Next });
export const SummaryTableSchema = z.object({
  total: z.number().int(),
  columns: z.array(z.string()),
  results: z.array(z.array(ScalarOut)),
  format: z.literal("table"),
  next: Next,
});
export const SummaryObjectSchema = z.object({
  total: z.number().int(),
  results: z.array(z.record(z.string(), ScalarOut)),
  format: z.literal("object"),
  next: Next,
});

const Issue = z.object({ path: z.string(), message: z.string() });
export const ErrorResponseSchema = z.object({ error: z.string(), message: z.string(), details: z.array(Issue) });
export const DeleteResponseSchema = z.object({
  deleted: z.number().int().meta({ description: "Points deleted; reads see their absence at once" }),
});
export const PushFailureSchema = ErrorResponseSchema.extend({
  details: z.array(
    Issue.extend({
      outcome: z.enum(["not_stored", "unknown"]).meta({
        description:
          "not_stored: known not stored; unknown: sent in a request the cluster never answered (push again: nothing is stored twice)",
      }),
    }),
  ),
  stored: z.number().int().meta({ description: "Points newly stored by this request" }),
  duplicates: z.number().int().meta({ description: "Points that were already stored (an earlier try, or repeated in this request)" }),
  not_stored: z.number().int().meta({ description: "Points known not stored (listed in details)" }),
  unknown: z.number().int().meta({ description: "Points whose outcome is unknown (listed in details)" }),
});
export const HealthSchema = z.object({
  status: z.literal("ok"),
  cluster: z.object({ name: z.string().optional(), version: z.string().optional(), distribution: z.string().optional() }),
});
export const ReadySchema = z.object({
  status: z
    .enum(["ready", "read_only", "not_ready"])
    .meta({ description: "`read_only`: reads are served, but the cluster refuses writes (a write block); see `writes`" }),
  writes: z.object({ accepted: z.boolean(), reason: z.string().optional() }),
  backend: z.string(),
  cluster: z.object({
    reachable: z.boolean(),
    name: z.string().optional(),
    version: z.string().optional(),
    health: z.string().optional(),
    profile: z
      .record(z.string(), z.union([z.string(), z.array(z.string()).readonly()]))
      .optional()
      .meta({
        description:
          "What the cluster can do, detected once at start (fields named in `overridden` come from RATESTORE_CLUSTER_PROFILE); the fields are the storage backend's (docs/engines.md, *The cluster profile*)",
      }),
  }),
  templates_installed: z.boolean(),
  retention: z.object({ hours: z.number(), mechanism: z.string() }),
  problems: z.array(z.string()),
});
