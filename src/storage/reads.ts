/**
 * The whole-result forms of the contract's streamed reads, written once for every backend: CloudKitty's
 * `retrieve` and `total` as its drivers call them.
 */
import {
  type TotalPage,
  type RetrieveOptions,
  type RetrieveResult,
  type StorageBackend,
  type TotalOptions,
  type TotalResult,
} from "./backend.js";
import { framesOfPage } from "./frames.js";

/** Every item of a stream, in order. */
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** CloudKitty's `retrieve`: a page of points (every point with `paginate: false`), grouped into dataframes by period. */
export async function retrieve(
  backend: Pick<StorageBackend, "streamPage" | "iteratePoints">,
  options: RetrieveOptions = {},
): Promise<RetrieveResult> {
  if (options.paginate === false) {
    const { offset: _offset, limit: _limit, paginate: _paginate, ...selection } = options;
    const points = await collect(backend.iteratePoints(selection));
    return { total: points.length, dataframes: framesOfPage(points, Infinity) };
  }
  const page = await backend.streamPage(options);
  const points = await collect(page.points);
  const next = page.next();
  return { total: page.total, dataframes: framesOfPage(points, Infinity), ...(next ? { next } : {}) };
}

/** A streamed page of groups, collected whole. */
export async function collectTotal(page: TotalPage): Promise<TotalResult> {
  const results = await collect(page.rows);
  const { total, next } = await page.end();
  return { total, results, ...(next ? { next } : {}) };
}

/** CloudKitty's `total`: the groups' exact sums, collected whole. */
export function total(backend: Pick<StorageBackend, "streamTotal">, options: TotalOptions = {}): Promise<TotalResult> {
  return collectTotal(backend.streamTotal(options));
}
