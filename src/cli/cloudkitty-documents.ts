/** CloudKitty's own index documents, read back into dataframes for migration. */
import { DataFrameInputSchema, type DataFrame } from "../storage/dataframe.js";
import { issuesOf, reservedKeyIssues } from "../validation.js";

/**
 * What one document of a CloudKitty v2 index is: a point, CloudKitty's own mapping document (its
 * OpenSearch backend's init() stores the mapping as a document), or something that cannot be stored
 * exactly. A point goes through the same validation as a push, so migration refuses what a push would
 * refuse and alters nothing.
 */
export type CloudKittyDocument =
  | { readonly kind: "point"; readonly frame: DataFrame }
  | { readonly kind: "mapping" }
  | { readonly kind: "unreadable"; readonly reason: string };

interface PointSource {
  start?: unknown;
  end?: unknown;
  type?: unknown;
  unit?: unknown;
  qty?: unknown;
  price?: unknown;
  groupby?: unknown;
  metadata?: unknown;
}

function isMappingDocument(s: Record<string, unknown>): boolean {
  return s.type === undefined && s.start === undefined && (typeof s.properties === "object" || Array.isArray(s.dynamic_templates));
}

/** `origin` identifies the document in its source (index and id): a copy run again stores nothing twice. */
export function readCloudKittyDocument(source: unknown, origin: string): CloudKittyDocument {
  if (typeof source !== "object" || source === null || Array.isArray(source))
    return { kind: "unreadable", reason: "_source is not an object" };
  const s = source as PointSource & Record<string, unknown>;
  if (isMappingDocument(s)) return { kind: "mapping" };
  if (typeof s.type !== "string") return { kind: "unreadable", reason: "type: missing or not a string" };
  const wire = {
    period: { begin: s.start, end: s.end },
    usage: {
      [s.type]: [{ vol: { unit: s.unit, qty: s.qty }, rating: { price: s.price }, groupby: s.groupby ?? {}, metadata: s.metadata ?? {} }],
    },
  };
  const reserved = reservedKeyIssues(wire);
  if (reserved.length > 0) return { kind: "unreadable", reason: reserved.map((i) => `${i.path}: ${i.message}`).join("; ") };
  const parsed = DataFrameInputSchema.safeParse(wire);
  if (!parsed.success) {
    const fields: Record<string, string> = {
      "period.begin": "start",
      "period.end": "end",
      "vol.unit": "unit",
      "vol.qty": "qty",
      "rating.price": "price",
    };
    const reason = issuesOf(parsed.error)
      .map((i) => {
        // Name the fields as they are in the CloudKitty document.
        const path = i.path.replace(/^usage\.[^[]+\[0\]\./, "");
        return `${fields[path] ?? path}: ${i.message}`;
      })
      .join("; ");
    return { kind: "unreadable", reason };
  }
  const frame = parsed.data;
  return { kind: "point", frame: { ...frame, points: frame.points.map((p) => ({ ...p, origin })) } };
}
