/** Points as documents: ids, fields, and the way back from a hit to a point. */
import { hash } from "node:crypto";
import { z } from "zod";
import type { StoredPoint } from "../backend.js";
import type { DataFrame, Labels, RatedPoint, Scalar } from "../dataframe.js";
import { BackendError } from "../../errors.js";
import { reservedKeyIssues } from "../../validation.js";
import { formatNanos, joinSums, parseDecimal, type Nanos } from "../decimal.js";
import { inexactSum, joinLimbs, LIMB_EXPONENTS, limbsOf, type Limbs } from "../limbs.js";

/**
 * One stored document per point, with CloudKitty's field names so existing CloudKitty indices and
 * dashboards stay readable, plus the exact integer parts of qty and price and a unique sort key.
 * From template version 7 the fields derived from the others (`@timestamp`, `point_id`, `metadata_kv`
 * and the limbs) are indexed and kept as doc values but left out of the stored `_source`: searches read
 * them back with POINT_DOC_VALUES (see fromHit).
 */
export interface PointDocument {
  "@timestamp": string;
  start: string;
  end: string;
  type: string;
  unit: string;
  qty: number;
  price: number;
  /**
   * The limbs of qty and price (src/storage/limbs.ts): what sums are taken over, exactly. A zero limb is
   * left out: most amounts have one or two, and a sum over a field that a segment lacks costs nothing.
   */
  qty_e0?: number;
  qty_e6?: number;
  qty_e12?: number;
  qty_e18?: number;
  price_e0?: number;
  price_e6?: number;
  price_e12?: number;
  price_e18?: number;
  point_id: string;
  groupby: Labels;
  /** Kept in `_source` only (not indexed): new metadata keys never grow the mapping. */
  metadata: Labels;
  /** `key=value` of every non-null metadata entry: what metadata filters match, in one keyword field. */
  metadata_kv: string[];
}

/**
 * A label map as JSON with its keys sorted: one serialization serves the point's id and its document.
 * Rebuilding a sorted object keeps JSON.stringify on V8's fast path (a replacer array leaves it).
 */
export function labelsJson(labels: Labels, keys: readonly string[] = sortedKeys(labels)): string {
  const sorted: Record<string, Scalar> = {};
  for (const k of keys) sorted[k] = labels[k]!;
  return JSON.stringify(sorted);
}

/**
 * A label map's keys in `Array.prototype.sort`'s order (UTF-16 code units), sorted in place by
 * insertion: maps hold a few keys (at most 128), and the built-in sort allocated 2.6 MB of the 15 MB a
 * 1,000-point push allocates (BENCHMARKS.md, "The push's own time"), filling the young generation.
 */
export function sortedKeys(labels: Labels): string[] {
  const keys = Object.keys(labels);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > k; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = k;
  }
  return keys;
}

/** The `metadata_kv` term of one metadata entry. */
export const metadataTerm = (key: string, value: string | number | boolean): string => `${key}=${String(value)}`;

function metadataTermsJson(metadata: Labels, keys: readonly string[]): string {
  const terms: string[] = [];
  for (const k of keys) {
    const v = metadata[k];
    if (v !== null && v !== undefined) terms.push(metadataTerm(k, v));
  }
  return JSON.stringify(terms);
}

/** A point's amounts as exact decimal text and its labels as JSON, computed once for its id and its document. */
export interface PointTexts {
  readonly qty: string;
  readonly price: string;
  readonly groupby: string;
  readonly metadata: string;
  /** `metadata_kv` as JSON. */
  readonly metadataTerms: string;
}

export function pointTexts(p: RatedPoint): PointTexts {
  // The metadata's keys are sorted once for both of its serializations.
  const metadataKeys = sortedKeys(p.metadata);
  return {
    qty: formatNanos(p.qty),
    price: formatNanos(p.price),
    groupby: labelsJson(p.groupby),
    metadata: labelsJson(p.metadata, metadataKeys),
    metadataTerms: metadataTermsJson(p.metadata, metadataKeys),
  };
}

/**
 * A point's content key: every field that makes it this point. Equal keys within one request are told
 * apart by their ordinal (see PointWriter.prepare). FROZEN: ids of stored points derive from it, so a
 * change would store retried points twice; test/unit/partitions.test.ts pins an id.
 */
export function contentKey(begin: number, end: number, p: RatedPoint, texts: PointTexts = pointTexts(p)): string {
  return `${begin}|${end}|${JSON.stringify(p.type)}|${JSON.stringify(p.unit)}|${texts.qty}|${texts.price}|${texts.groupby}|${texts.metadata}`;
}

/**
 * Deterministic id: the same point pushed again (a client retry, a resumed ingestion) gets the same id
 * and is not stored twice, whatever the order of the points in the payload. The ordinal numbers the
 * occurrences of one content within a request, so identical points sent together are all kept.
 */
export function pointId(key: string, ordinal: number | string): string {
  return hash("sha256", `${key}\u0000${ordinal}`, "base64url").slice(0, 27);
}

/** The fields of an amount's limbs, low to high. */
export const limbFields = (amount: "qty" | "price"): readonly string[] => LIMB_EXPONENTS.map((e) => `${amount}_e${e}`);
const QTY_LIMBS = limbFields("qty");
const PRICE_LIMBS = limbFields("price");

/** `"qty_e6":1500,` for each limb that is not zero. */
function limbMembers(fields: readonly string[], limbs: Limbs): string {
  let text = "";
  for (let k = 0; k < limbs.length; k++) if (limbs[k] !== 0) text += `"${fields[k]!}":${limbs[k]!},`;
  return text;
}

/** An amount from a document's limb fields (a missing one is 0), or undefined when one is not an integer. */
function limbsAmount(d: Record<string, unknown>, fields: readonly string[]): Nanos | undefined {
  const limbs: number[] = [];
  for (const f of fields) {
    const v = d[f] ?? 0;
    if (typeof v !== "number") return undefined;
    limbs.push(v);
  }
  return inexactSum(limbs) ? undefined : joinLimbs(limbs);
}

/** The period as ISO text, computed once per dataframe. */
export interface PeriodTexts {
  readonly start: string;
  readonly end: string;
}

export function periodTexts(df: Pick<DataFrame, "begin" | "end">): PeriodTexts {
  return { start: new Date(df.begin).toISOString(), end: new Date(df.end).toISOString() };
}

/**
 * The stored document as JSON text, assembled from parts that are already JSON (decimal texts are
 * valid JSON numbers, ids are base64url): no intermediate object, one label serialization.
 */
export function documentJson(period: PeriodTexts, p: RatedPoint, id: string, texts: PointTexts = pointTexts(p)): string {
  return (
    `{"@timestamp":"${period.start}","start":"${period.start}","end":"${period.end}","type":${JSON.stringify(p.type)},"unit":${JSON.stringify(p.unit)},` +
    `"qty":${texts.qty},"price":${texts.price},` +
    limbMembers(QTY_LIMBS, limbsOf(p.qty)) +
    limbMembers(PRICE_LIMBS, limbsOf(p.price)) +
    `"point_id":"${id}","groupby":${texts.groupby},"metadata":${texts.metadata},"metadata_kv":${texts.metadataTerms}}`
  );
}

const ScalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/**
 * What a stored document must hold to be read back. Its amounts come from the limbs (ratestore's
 * documents from template version 5 on), from the whole and nano parts that earlier versions wrote, or,
 * in documents written by CloudKitty itself (no `point_id`), from the doubles alone.
 */
const StoredDocumentSchema = z.object({
  start: z.union([z.string(), z.number()]),
  end: z.union([z.string(), z.number()]),
  type: z.string(),
  unit: z.string().default(""),
  qty: z.number().default(0),
  price: z.number().default(0),
  point_id: z.string().optional(),
  qty_units: z.number().optional(),
  qty_nanos: z.number().optional(),
  price_units: z.number().optional(),
  price_nanos: z.number().optional(),
  groupby: z.record(z.string(), ScalarSchema).default({}),
  metadata: z.record(z.string(), ScalarSchema).default({}),
});

/**
 * A timestamp text's value, remembering the last one per field: the points of a page share a few
 * periods, so nearly every read is a hit.
 */
class TimeMemo {
  private text = "";
  private ms = NaN;

  read(v: string | number): number {
    if (typeof v === "number") return v;
    if (v !== this.text) {
      this.ms = Date.parse(v);
      this.text = v;
    }
    return this.ms;
  }
}
const startTimes = new TimeMemo();
const endTimes = new TimeMemo();

function isLabels(v: unknown): v is Labels {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x !== "string" && typeof x !== "number" && typeof x !== "boolean") return false;
  }
  return true;
}

/**
 * The documents ratestore writes, checked field by field without building a schema parse: an export
 * reads every stored point, and the schema's generic walk cost more than fetching them. Anything else
 * (CloudKitty's own documents, an altered one) goes through StoredDocumentSchema.
 */
function fromOwnDocument(d: Record<string, unknown>): StoredPoint | undefined {
  const { start, end, type, unit, point_id, groupby, metadata } = d;
  if (typeof start !== "string" || typeof end !== "string" || typeof type !== "string" || typeof unit !== "string") return undefined;
  if (typeof point_id !== "string" || !isLabels(groupby) || !isLabels(metadata)) return undefined;
  const qty = partsAmount(d.qty_units, d.qty_nanos) ?? limbsAmount(d, QTY_LIMBS);
  const price = partsAmount(d.price_units, d.price_nanos) ?? limbsAmount(d, PRICE_LIMBS);
  if (qty === undefined || price === undefined) return undefined;
  return { begin: startTimes.read(start), end: endTimes.read(end), point: { type, unit, qty, price, groupby, metadata } };
}

/** An amount from the whole and nano parts that template versions before 5 wrote, or undefined when the document has none. */
function partsAmount(units: unknown, nanos: unknown): Nanos | undefined {
  return typeof units === "number" && typeof nanos === "number" ? joinSums(units, nanos) : undefined;
}

/** An amount of a document that fromOwnDocument did not read: from an earlier version's whole and nano parts, its limbs, or the double. */
function amountOf(
  d: Record<string, unknown>,
  fields: readonly string[],
  units: number | undefined,
  nanos: number | undefined,
  double: number,
  ours: boolean,
): Nanos {
  const parts = partsAmount(units, nanos);
  if (parts !== undefined) return parts;
  if (!ours) return parseDecimal(double) ?? 0n;
  const amount = limbsAmount(d, fields);
  if (amount === undefined) throw new BackendError(`a stored document's limbs (${fields.join(", ")}) are not integers below 2^53`);
  return amount;
}

/**
 * The doc values a point search asks for beside `_source`: the limbs and the point id, which template
 * version 7 keeps out of `_source`. A document written by CloudKitty itself has no `point_id` doc value,
 * which is how fromDocument tells it apart.
 */
export const POINT_DOC_VALUES: readonly string[] = ["point_id", ...QTY_LIMBS, ...PRICE_LIMBS];

/** A search hit's stored fields and the doc values POINT_DOC_VALUES asked for. */
export interface PointHit {
  readonly _source?: unknown;
  readonly fields?: Record<string, readonly unknown[]>;
}

/**
 * A point from a search hit: its `_source` completed, in place (a hit is read once, and an export reads
 * every point: no copy), with the doc values of the fields it leaves out.
 */
export function fromHit(hit: PointHit): StoredPoint {
  const fields = hit.fields;
  if (fields === undefined || typeof hit._source !== "object" || hit._source === null) return fromDocument(hit._source);
  const d = hit._source as Record<string, unknown>;
  for (const k in fields) d[k] = fields[k]![0];
  return fromDocument(d);
}

export function fromDocument(source: unknown): StoredPoint {
  if (typeof source === "object" && source !== null) {
    const own = fromOwnDocument(source as Record<string, unknown>);
    if (own) return own;
  }
  // zod skips a "__proto__" key without a word: such a label would be lost, so the document is refused.
  const reserved = reservedKeyIssues(source);
  if (reserved.length > 0)
    throw new BackendError(`a stored document cannot be read without losing a label: ${reserved[0]!.path}: ${reserved[0]!.message}`);
  const d = StoredDocumentSchema.parse(source);
  const ours = d.point_id !== undefined;
  const qty = amountOf(source as Record<string, unknown>, QTY_LIMBS, d.qty_units, d.qty_nanos, d.qty, ours);
  const price = amountOf(source as Record<string, unknown>, PRICE_LIMBS, d.price_units, d.price_nanos, d.price, ours);
  return {
    begin: startTimes.read(d.start),
    end: endTimes.read(d.end),
    point: { type: d.type, unit: d.unit, qty, price, groupby: d.groupby, metadata: d.metadata },
  };
}
