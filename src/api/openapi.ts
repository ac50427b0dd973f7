/** The OpenAPI document of the API, generated from the zod schemas that validate it. */
import { z } from "zod";
import {
  DataframesQuerySchema,
  DataframesResponseSchema,
  DeleteQuerySchema,
  DeleteResponseSchema,
  ErrorResponseSchema,
  ExportQuerySchema,
  HealthSchema,
  PushBodySchema,
  PushFailureSchema,
  PushQuerySchema,
  ReadySchema,
  SummaryObjectSchema,
  SummaryQuerySchema,
  SummaryTableSchema,
} from "./schemas.js";

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */

type JsonSchema = Record<string, unknown>;

const schemaOf = (s: z.ZodType, io: "input" | "output"): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonSchema;
  return rest;
};

function queryParameters(schema: z.ZodObject): JsonSchema[] {
  const json = schemaOf(schema, "input") as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties).map(([name, s]) => ({
    name,
    in: "query",
    required: (json.required ?? []).includes(name),
    ...(typeof s.description === "string" ? { description: s.description } : {}),
    schema: s,
  }));
}

const json = (s: z.ZodType, description: string) => ({ description, content: { "application/json": { schema: schemaOf(s, "output") } } });
const error = (description: string) => json(ErrorResponseSchema, description);
const common = {
  "400": error("Invalid input; `details` names each bad field"),
  "401": error("No API key, or an unknown one"),
  "414": error("The request target is longer than 16 KiB"),
  "431": error("The request line and headers are too large"),
  "503": error("The cluster is unreachable; retry after `Retry-After` seconds"),
};

/** What any request can be answered before it reaches a route. */
const beforeRouting = { "414": common["414"], "431": common["431"] };

export function buildOpenApi(version: string): JsonSchema {
  return {
    openapi: "3.1.0",
    info: {
      title: "ratestore",
      version,
      description: "CloudKitty v2 compatible rating storage on OpenSearch / Elasticsearch",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    // Relative: the document is served by the service it describes, wherever that listens.
    servers: [{ url: "/", description: "the service serving this document" }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        authToken: { type: "apiKey", in: "header", name: "X-Auth-Token" },
      },
    },
    security: [{ bearer: [] }, { authToken: [] }],
    paths: {
      "/v2/dataframes": {
        post: {
          operationId: "pushDataframes",
          summary: "Store dataframes",
          parameters: queryParameters(PushQuerySchema),
          requestBody: { required: true, content: { "application/json": { schema: schemaOf(PushBodySchema, "input") } } },
          responses: {
            "204": { description: "Every point is stored" },
            ...common,
            "403": error("A project key pushed points outside its scope"),
            "413": error("Body larger than RATESTORE_MAX_BODY_BYTES"),
            "415": error("Not application/json"),
            "502": json(
              PushFailureSchema,
              "The cluster failed part-way for a reason that is not transient; `details` lists each point not stored or unknown",
            ),
            "503": json(
              PushFailureSchema,
              "Some points hit a transient failure, or the cluster failed part-way; `details` lists each point `not_stored` or `unknown`. An `unknown` point was sent in a request that got no answer and may still be written after this answer: push the same dataframes again (nothing is stored twice). Retry after `Retry-After` seconds",
            ),
            "422": json(
              PushFailureSchema,
              "Some points were not stored: rejected by the cluster, or past the retention (RATESTORE_RETENTION_HOURS). `details` names each; the rest are stored",
            ),
          },
        },
        delete: {
          operationId: "deleteDataframes",
          summary: "Delete the matching points (admin keys only)",
          parameters: queryParameters(DeleteQuerySchema),
          responses: {
            "200": json(DeleteResponseSchema, "How many points were deleted; reads no longer see them"),
            ...common,
            "403": error("Not an admin key"),
          },
        },
        get: {
          operationId: "getDataframes",
          summary: "Retrieve dataframes",
          parameters: queryParameters(DataframesQuerySchema),
          responses: { "200": json(DataframesResponseSchema, "A page of dataframes"), ...common, "404": error("No dataframe matches") },
        },
      },
      "/v2/refresh": {
        post: {
          operationId: "refresh",
          summary:
            "Make every stored point visible now to readers of the indices outside this API (Dashboards, Kibana); reads through the API always see them",
          responses: {
            "204": { description: "Every point stored so far is visible to every reader of the indices" },
            "401": common["401"],
            "503": common["503"],
          },
        },
      },
      "/v2/dataframes/export": {
        get: {
          operationId: "exportDataframes",
          summary: "Every matching dataframe as NDJSON, streamed",
          parameters: queryParameters(ExportQuerySchema),
          responses: { "200": { description: "One CloudKitty dataframe per line", content: { "application/x-ndjson": {} } }, ...common },
        },
      },
      "/v2/summary": {
        get: {
          operationId: "getSummary",
          summary: "Grouped totals",
          parameters: queryParameters(SummaryQuerySchema),
          responses: {
            "200": {
              description: "Totals",
              content: {
                "application/json": {
                  schema: { oneOf: [schemaOf(SummaryTableSchema, "output"), schemaOf(SummaryObjectSchema, "output")] },
                },
              },
            },
            ...common,
            "500": error(
              "`inexact_total`: a total cannot be given to the nano-unit (points written before index template version 5 whose sums pass 2^53); it is refused, never rounded",
            ),
          },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          summary: "The process is alive",
          security: [],
          responses: { "200": json(HealthSchema, "Alive"), ...beforeRouting },
        },
      },
      "/readyz": {
        get: {
          operationId: "readiness",
          summary: "The cluster is reachable and set up",
          security: [],
          responses: { "200": json(ReadySchema, "Ready"), "503": json(ReadySchema, "Not ready"), ...beforeRouting },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics",
          summary: "Prometheus metrics",
          security: [],
          responses: { "200": { description: "Prometheus text format", content: { "text/plain": {} } }, ...beforeRouting },
        },
      },
    },
  };
}
