import type { DataFrame, RatedPoint } from "../../src/storage/dataframe.js";
import { formatNanos, parseDecimal } from "../../src/storage/decimal.js";

export const HOUR = 3_600_000;
export const T0 = Date.parse("2024-03-10T00:00:00Z");
export const PROJECTS = ["proj-a", "proj-b"] as const;
export const TYPES = [
  "cpu",
  "image.size",
  "ip.floating",
  "volume.size",
  "network.incoming.bytes",
  "network.outgoing.bytes",
  "radosgw.objects.size",
];

export function dec(v: string | number): bigint {
  const n = parseDecimal(v);
  if (n === undefined) throw new Error(`bad decimal ${v}`);
  return n;
}

/** A point of one project (its resource `r-<project>`) with the given amounts, as decimal text. */
export function amountPoint(project: string, qty: string, price: string, type = "network.outgoing.bytes"): RatedPoint {
  return { type, unit: "B", qty: dec(qty), price: dec(price), groupby: { project_id: project, id: `r-${project}` }, metadata: {} };
}

/** The quantity and price of the k-th point of a (period, project, type), chosen so sums are easy to predict. */
export function amounts(period: number, project: number, type: number, k: number): { qty: string; price: string } {
  return { qty: String(1 + k + type), price: `${project + 1}.${period}${type}${k}` };
}

/**
 * CloudKitty's storage scenario: hourly dataframes for 2 projects and 7 metric types, 2 points per
 * (project, type) in each period.
 */
export function scenarioFrames(periods = 3): DataFrame[] {
  const frames: DataFrame[] = [];
  for (let h = 0; h < periods; h++) {
    const points: RatedPoint[] = [];
    PROJECTS.forEach((project, pi) => {
      TYPES.forEach((type, ti) => {
        for (let k = 0; k < 2; k++) {
          const a = amounts(h, pi, ti, k);
          points.push({
            type,
            unit: "unit",
            qty: dec(a.qty),
            price: dec(a.price),
            groupby: { project_id: project, id: `${project}-${type}-${k}` },
            metadata: { flavor: `f${k}`, year: 2024 },
          });
        }
      });
    });
    frames.push({ begin: T0 + h * HOUR, end: T0 + (h + 1) * HOUR, points });
  }
  return frames;
}

/** Exact sums of the scenario, computed from the data, for a predicate over (period, project, type). */
export function expectedSums(
  periods: number,
  keep: (h: number, project: number, type: number) => boolean,
): { qty: bigint; rate: bigint; points: number } {
  let qty = 0n;
  let rate = 0n;
  let points = 0;
  for (let h = 0; h < periods; h++)
    for (let p = 0; p < PROJECTS.length; p++)
      for (let t = 0; t < TYPES.length; t++)
        for (let k = 0; k < 2; k++) {
          if (!keep(h, p, t)) continue;
          const a = amounts(h, p, t, k);
          qty += dec(a.qty);
          rate += dec(a.price);
          points++;
        }
  return { qty, rate, points };
}

/** n points in one hourly period each, spread over `spanHours`, for paging tests. */
export function manyPoints(n: number, opts: { spanHours?: number; price?: string; start?: number; types?: number } = {}): DataFrame[] {
  const span = opts.spanHours ?? 10;
  const start = opts.start ?? T0;
  const frames: { begin: number; end: number; points: RatedPoint[] }[] = [];
  for (let h = 0; h < span; h++) frames.push({ begin: start + h * HOUR, end: start + (h + 1) * HOUR, points: [] });
  for (let i = 0; i < n; i++) {
    frames[i % span]!.points.push({
      type: `m${i % (opts.types ?? 3)}`,
      unit: "u",
      qty: dec(1),
      price: dec(opts.price ?? "0.1"),
      groupby: { project_id: `p${i % 50}`, id: `r${i}` },
      metadata: {},
    });
  }
  return frames;
}

/** Dataframes in CloudKitty's wire form, amounts as exact decimal strings, for pushes through the API. */
export function wireFrames(frames: readonly DataFrame[]): unknown[] {
  return frames.map((f) => {
    const usage: Record<string, unknown[]> = {};
    for (const p of f.points) {
      (usage[p.type] ??= []).push({
        vol: { unit: p.unit, qty: formatNanos(p.qty) },
        rating: { price: formatNanos(p.price) },
        groupby: p.groupby,
        metadata: p.metadata,
      });
    }
    return { period: { begin: new Date(f.begin).toISOString(), end: new Date(f.end).toISOString() }, usage };
  });
}
