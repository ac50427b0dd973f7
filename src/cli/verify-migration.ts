/** Checks a migration by comparing CloudKitty's index and ratestore group by group. */
import type { StorageBackend } from "../storage/backend.js";
import { total } from "../storage/reads.js";
import type { CloudKittySource, SourceDocument } from "../storage/cloudkitty-source.js";
import { formatNanos, type Nanos } from "../storage/decimal.js";
import { readCloudKittyDocument } from "./cloudkitty-documents.js";

/**
 * The check that ends a migration (and can run alone): per (metric type, project_id), the qty and
 * price totals of the source, summed exactly from `_source`, against ratestore's exact totals over the
 * same period. A source document that could not be stored exactly counts as a difference of its group.
 */

export interface GroupFigures {
  qty: Nanos;
  price: Nanos;
  points: number;
  /** Source documents of the group that are not points ratestore could store exactly. */
  unreadable: number;
}

export interface Difference {
  readonly type: string | null;
  readonly projectId: string | null;
  readonly source?: GroupFigures;
  readonly target?: GroupFigures;
}

export interface Verification {
  readonly groups: number;
  readonly sourcePoints: number;
  readonly window?: { begin: number; end: number };
  readonly differences: readonly Difference[];
}

const keyOf = (type: unknown, project: unknown) =>
  JSON.stringify([typeof type === "string" ? type : null, project === undefined || project === null ? null : String(project)]);

function figures(map: Map<string, GroupFigures>, key: string): GroupFigures {
  let g = map.get(key);
  if (!g) map.set(key, (g = { qty: 0n, price: 0n, points: 0, unreadable: 0 }));
  return g;
}

/** Sums the source, and the window its points span (start of the first, end of the last). */
export async function sourceFigures(
  source: CloudKittySource,
  index: string,
  window: { begin?: number; end?: number },
): Promise<{ groups: Map<string, GroupFigures>; window?: { begin: number; end: number } }> {
  const groups = new Map<string, GroupFigures>();
  let begin = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  const add = (doc: SourceDocument) => {
    const read = readCloudKittyDocument(doc.source, `${index}/${doc.id}`);
    if (read.kind === "mapping") return;
    if (read.kind === "unreadable") {
      const raw = (doc.source ?? {}) as { type?: unknown; groupby?: { project_id?: unknown } };
      figures(groups, keyOf(raw.type, raw.groupby?.project_id)).unreadable++;
      return;
    }
    const p = read.frame.points[0]!;
    const g = figures(groups, keyOf(p.type, p.groupby.project_id));
    g.qty += p.qty;
    g.price += p.price;
    g.points++;
    begin = Math.min(begin, read.frame.begin);
    end = Math.max(end, read.frame.end);
  };
  for (const day of await source.days(window)) for await (const page of source.documents(day.start, day.end)) page.forEach(add);
  for await (const page of source.documentsWithoutStart()) page.forEach(add);
  return { groups, ...(Number.isFinite(begin) ? { window: { begin, end } } : {}) };
}

export async function targetFigures(target: StorageBackend, window: { begin: number; end: number }): Promise<Map<string, GroupFigures>> {
  const groups = new Map<string, GroupFigures>();
  const res = await total(target, { ...window, groupby: ["type", "project_id"], paginate: false });
  for (const row of res.results) {
    const g = figures(groups, keyOf(row.groups.type, row.groups.project_id));
    g.qty += row.qty;
    g.price += row.rate;
  }
  return groups;
}

export async function verifyMigration(
  source: CloudKittySource,
  index: string,
  target: StorageBackend,
  window: { begin?: number; end?: number },
): Promise<Verification> {
  const src = await sourceFigures(source, index, window);
  const tgt = src.window ? await targetFigures(target, src.window) : new Map<string, GroupFigures>();
  const differences: Difference[] = [];
  for (const key of [...new Set([...src.groups.keys(), ...tgt.keys()])].sort()) {
    const [type, projectId] = JSON.parse(key) as [string | null, string | null];
    const s = src.groups.get(key);
    const t = tgt.get(key);
    if (s && t && s.unreadable === 0 && s.qty === t.qty && s.price === t.price) continue;
    differences.push({ type, projectId, ...(s ? { source: s } : {}), ...(t ? { target: t } : {}) });
  }
  let sourcePoints = 0;
  for (const g of src.groups.values()) sourcePoints += g.points;
  return { groups: src.groups.size, sourcePoints, ...(src.window ? { window: src.window } : {}), differences };
}

/** One line per difference, for the terminal. */
export function describeDifference(d: Difference): string {
  const side = (g?: GroupFigures) => (g ? `qty ${formatNanos(g.qty)} price ${formatNanos(g.price)}` : "absent");
  const unreadable =
    d.source && d.source.unreadable > 0 ? ` (${d.source.unreadable} source documents not stored: see the reject file)` : "";
  return `type=${d.type ?? "(none)"} project_id=${d.projectId ?? "(none)"}: source ${side(d.source)}${unreadable}; ratestore ${side(d.target)}`;
}
