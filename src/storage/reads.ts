/**
 * The whole-result forms of the contract's streamed reads, written once for every backend: CloudKitty's
 * `retrieve` and `total` as its drivers call them.
 */
import {
  type TotalPage,
  type RetrieveOptions,
  type RetrieveResult,
  type StorageBackend,
  type StoredPoint,
  type TotalOptions,
  type TotalResult,
  type TotalRow,
} from "./backend.js";
import { framesOfPage } from "./frames.js";

/** The reads a whole result is collected from. */
export type StreamedReads = Pick<StorageBackend, "streamPage" | "streamTotal">;

/** CloudKitty's `retrieve`: a page of points (every point with `paginate: false`), grouped into dataframes by period. */
export async function retrieve(
  backend: Pick<StorageBackend, "streamPage" | "iteratePoints">,
  options: RetrieveOptions = {},
): Promise<RetrieveResult> {
  if (options.paginate === false) {
    const { offset: _offset, limit: _limit, paginate: _paginate, ...selection } = options;
    const points: StoredPoint[] = [];
    for await (const p of backend.iteratePoints(selection)) points.push(p);
    return { total: points.length, dataframes: framesOfPage(points, Infinity) };
  }
  const page = await backend.streamPage(options);
  const points: StoredPoint[] = [];
  for await (const p of page.points) points.push(p);
  const next = page.next();
  return { total: page.total, dataframes: framesOfPage(points, Infinity), ...(next ? { next } : {}) };
}

/** A streamed page of groups, collected whole. */
export async function collectTotal(page: TotalPage): Promise<TotalResult> {
  const results: TotalRow[] = [];
  for await (const row of page.rows) results.push(row);
  const { total, next } = await page.end();
  return { total, results, ...(next ? { next } : {}) };
}

/** CloudKitty's `total`: the groups' exact sums, collected whole. */
export function total(backend: Pick<StorageBackend, "streamTotal">, options: TotalOptions = {}): Promise<TotalResult> {
  return collectTotal(backend.streamTotal(options));
}
