/** CloudKitty's dataframe: its wire format (zod) and the normalized form the storage holds. */
import { z } from "zod";
import { DECIMAL_STRING_PATTERN, MAX_ABS, SCALE, parseExactDecimal, type Nanos } from "./decimal.js";
import { EPOCH_SECONDS_NUMBER, TIMESTAMP_DESCRIPTION, TIMESTAMP_PATTERNS, parseTimestamp } from "./time.js";

/**
 * CloudKitty's dataframe, as clients send it and as `retrieve` returns it, and the normalized form
 * the backends store. The zod schemas are the single definition of the wire format.
 */

export type Scalar = string | number | boolean | null;
export type Labels = Readonly<Record<string, Scalar>>;

export const LABEL_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_@-]{0,127}$/;
const LABEL_KEY_MESSAGE =
  "must be 1-128 characters of letters, digits, '_', '-' or '@', not starting with '-' or '@' (dots, wildcards, spaces and ':' are not allowed in keys)";
export const MAX_LABEL_VALUE_LENGTH = 1024;

/** Metric types are values, not field names: CloudKitty's dotted names (`image.size`) are fine. */
export const METRIC_TYPE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}$/;
const METRIC_TYPE_MESSAGE = "must be 1-128 characters of letters, digits, '_', '.', ':', '-' or '@'";

const LABEL_VALUE_MESSAGE = `must be a string (at most ${MAX_LABEL_VALUE_LENGTH} characters), a finite number, a boolean or null: groupby and metadata are flat maps`;

function isLabelValue(v: unknown): boolean {
  switch (typeof v) {
    case "string":
      return v.length <= MAX_LABEL_VALUE_LENGTH;
    case "number":
      return Number.isFinite(v);
    case "boolean":
      return true;
    default:
      return v === null;
  }
}

/**
 * groupby / metadata: a flat map of scalars. Numbers stay numbers in `_source` and are indexed as
 * keywords, so `year: 2022` beside `year: "2023"` is no mapping conflict. One pass checks every key
 * and value (several times faster than a value union, and every bad entry is reported at once); the
 * metadata gives OpenAPI the same rules as JSON Schema.
 */
/** Keys per point at most: one client cannot make a point (or a mapping) arbitrarily wide. */
export const MAX_GROUPBY_KEYS = 64;
export const MAX_METADATA_KEYS = 128;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const labelsSchema = (maxKeys: number) =>
  // A check over the parsed JSON object as it is, not z.record: that copies every map entry by entry,
  // and label maps are two of a push's four largest costs per point (profiled).
  z
    .custom<Record<string, unknown>>(isPlainObject, { error: "must be an object: groupby and metadata are flat maps" })
    .superRefine((obj, ctx) => {
      const count = Object.keys(obj).length;
      if (count > maxKeys) ctx.addIssue({ code: "custom", message: `has ${count} keys; at most ${maxKeys} are accepted` });
      for (const key in obj) {
        if (!LABEL_KEY_RE.test(key))
          ctx.addIssue({ code: "custom", path: [key], message: `key ${JSON.stringify(key)} ${LABEL_KEY_MESSAGE}` });
        if (!isLabelValue(obj[key])) ctx.addIssue({ code: "custom", path: [key], message: LABEL_VALUE_MESSAGE });
      }
    })
    .transform((obj) => obj as Labels)
    .meta({
      description: `Flat map of scalars, at most ${maxKeys} keys; keys are letters, digits, '_', '-' or '@'`,
      type: "object",
      propertyNames: { pattern: LABEL_KEY_RE.source, not: { const: "__proto__" } },
      maxProperties: maxKeys,
      additionalProperties: { type: ["string", "number", "boolean", "null"], maxLength: MAX_LABEL_VALUE_LENGTH },
    });

/** The bound in nano-units, compared exactly (the OpenAPI pattern allows 15 whole digits). */
const MAX_NANOS = BigInt(MAX_ABS) * SCALE;

/** A decimal as a JSON number or a decimal string; exact to 9 decimal places. */
export const DecimalSchema = z
  .union([z.number(), z.string()], { error: "must be a finite decimal number or decimal string" })
  .meta({
    description:
      'A decimal as a string such as "0.000123" (at most 9 decimal places, magnitude below 1e15), or a JSON number; ' +
      "finer amounts are refused, never rounded. A JSON number is accepted when a double keeps it as written; one with more significant digits than a double holds is refused: send it as a string.",
    anyOf: [
      { type: "string", pattern: DECIMAL_STRING_PATTERN },
      { type: "integer", minimum: -MAX_ABS + 1, maximum: MAX_ABS - 1 },
    ],
  })
  .transform((v, ctx): Nanos => {
    const parsed = parseExactDecimal(v);
    if (!parsed.ok) {
      ctx.addIssue({ code: "custom", message: parsed.reason });
      return z.NEVER;
    }
    const n = parsed.nanos;
    if (n >= MAX_NANOS || n <= -MAX_NANOS) {
      ctx.addIssue({ code: "custom", message: `must be below ${MAX_ABS} in magnitude` });
      return z.NEVER;
    }
    return n;
  });

/** An instant as ISO 8601, `20190723T122810Z` or epoch seconds; parsed to epoch milliseconds. */
export const TimestampSchema = z
  .union([z.string(), z.number()], { error: "must be an ISO 8601 string, YYYYMMDDTHHMMSSZ or epoch seconds" })
  .meta({
    description: TIMESTAMP_DESCRIPTION,
    anyOf: [...TIMESTAMP_PATTERNS.map((pattern) => ({ type: "string", pattern })), { type: "integer", ...EPOCH_SECONDS_NUMBER }],
  })
  .transform((v, ctx): number => {
    const t = parseTimestamp(v);
    if (!t.ok) {
      ctx.addIssue({ code: "custom", message: t.reason });
      return z.NEVER;
    }
    return t.ms;
  });

export const PointInputSchema = z.strictObject({
  vol: z.strictObject({
    unit: z.string().min(1).max(128),
    qty: DecimalSchema,
  }),
  rating: z.strictObject({
    price: DecimalSchema.default(0n),
  }),
  groupby: labelsSchema(MAX_GROUPBY_KEYS),
  metadata: labelsSchema(MAX_METADATA_KEYS).default({}),
});

export const DataFrameInputSchema = z
  .strictObject({
    period: z.strictObject({ begin: TimestampSchema, end: TimestampSchema }),
    usage: z
      .record(z.string(), z.array(PointInputSchema))
      .superRefine((usage, ctx) => {
        for (const type of Object.keys(usage)) {
          if (!METRIC_TYPE_RE.test(type))
            ctx.addIssue({ code: "custom", path: [type], message: `metric type ${JSON.stringify(type)} ${METRIC_TYPE_MESSAGE}` });
        }
      })
      .meta({ description: "Points by metric type", propertyNames: { pattern: METRIC_TYPE_RE.source, not: { const: "__proto__" } } }),
  })
  .refine((df) => df.period.begin < df.period.end, { path: ["period", "end"], message: "must be after period.begin" })
  .meta({ description: "A CloudKitty dataframe. period.end must be after period.begin (a rule JSON Schema cannot state)." })
  .transform(toDataFrame);

/** The wire form of a dataframe before parsing (what clients send). */
export type DataFrameInput = z.input<typeof DataFrameInputSchema>;

/** One rated point, normalized. */
export interface RatedPoint {
  readonly type: string;
  readonly unit: string;
  readonly qty: Nanos;
  readonly price: Nanos;
  readonly groupby: Labels;
  readonly metadata: Labels;
  /**
   * Where the point was copied from (`ratestore migrate`: the source index and document id). When set,
   * it identifies the point instead of its occurrence within the request, so that a copy run again, in
   * other batches, stores nothing twice and still keeps every identical point of the source.
   */
  readonly origin?: string;
}

/** A normalized dataframe: a period (epoch ms) and its points. */
export interface DataFrame {
  readonly begin: number;
  readonly end: number;
  readonly points: readonly RatedPoint[];
}

function toDataFrame(df: {
  period: { begin: number; end: number };
  usage: Record<string, { vol: { unit: string; qty: Nanos }; rating: { price: Nanos }; groupby: Labels; metadata: Labels }[]>;
}): DataFrame {
  const points: RatedPoint[] = [];
  for (const [type, list] of Object.entries(df.usage)) {
    for (const p of list)
      points.push({ type, unit: p.vol.unit, qty: p.vol.qty, price: p.rating.price, groupby: p.groupby, metadata: p.metadata });
  }
  return { begin: df.period.begin, end: df.period.end, points };
}

/**
 * Each point of a dataframe with its index in `usage[type]`, the position CloudKitty's wire form
 * gives it: how failures and refusals name a point (`dataframes[0].usage.cpu[1]`).
 */
export function* pointsWithIndex(df: DataFrame): Generator<[RatedPoint, number]> {
  const perType = new Map<string, number>();
  for (const p of df.points) {
    const index = perType.get(p.type) ?? 0;
    perType.set(p.type, index + 1);
    yield [p, index];
  }
}

/** Where a point sits in a push, in CloudKitty's wire form: how refusals and failures name it. */
export const pointPath = (dataframe: number, type: string, index: number): string => `dataframes[${dataframe}].usage.${type}[${index}]`;
