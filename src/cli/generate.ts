/** Generates realistic rated dataframes (`ratestore generate`), for benchmarks and trials. */
import type { DataFrameInput } from "../storage/dataframe.js";
import { formatTimestamp } from "../storage/time.js";

/**
 * Realistic synthetic CloudKitty dataframes for demos, tests and benchmarks: each period holds one
 * point per resource; resources belong to projects and each has one metric type, with CloudKitty-like
 * units and unit prices. Deterministic for a given seed.
 */
export interface GenerateOptions {
  readonly points: number;
  readonly projects: number;
  readonly resourcesPerProject: number;
  readonly metadataCardinality: number;
  readonly periodSeconds: number;
  readonly start: number;
  readonly seed: number;
}

export const DEFAULT_GENERATE: GenerateOptions = {
  points: 100_000,
  projects: 10,
  resourcesPerProject: 20,
  metadataCardinality: 5,
  periodSeconds: 3600,
  start: Date.parse("2024-01-01T00:00:00Z"),
  seed: 42,
};

/**
 * The start that makes a generated dataset end with the current period: what `ratestore generate` uses
 * without `--start`, so that its data is inside the default retention and an ingest stores it.
 */
export function recentStart(
  opts: Pick<GenerateOptions, "points" | "projects" | "resourcesPerProject" | "periodSeconds">,
  now = Date.now(),
): number {
  const period = opts.periodSeconds * 1000;
  const periods = Math.ceil(opts.points / (opts.projects * opts.resourcesPerProject));
  return Math.floor(now / period) * period - (periods - 1) * period;
}

/** name, unit, unit price, typical quantity. */
export const METRICS: readonly (readonly [string, string, number, number])[] = [
  ["instance", "instance", 0.05, 1],
  ["image.size", "MiB", 0.0001, 2048],
  ["volume.size", "GiB", 0.0002, 100],
  ["ip.floating", "ip", 0.01, 1],
  ["network.incoming.bytes", "MB", 0.00001, 500],
  ["network.outgoing.bytes", "MB", 0.00002, 800],
  ["radosgw.objects.size", "GiB", 0.0003, 50],
];

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (x: number, decimals: number) => Number(x.toFixed(decimals));

export function* generateFrames(opts: GenerateOptions): Generator<DataFrameInput> {
  const random = prng(opts.seed);
  const resources = opts.projects * opts.resourcesPerProject;
  const projectIds = Array.from({ length: opts.projects }, (_, p) => `project-${String(p).padStart(4, "0")}`);
  const flavors = Array.from({ length: opts.metadataCardinality }, (_, i) => `flavor-${i}`);
  let left = opts.points;
  for (let period = 0; left > 0; period++) {
    const begin = opts.start + period * opts.periodSeconds * 1000;
    const usage: Record<string, DataFrameInput["usage"][string]> = {};
    const n = Math.min(left, resources);
    for (let r = 0; r < n; r++) {
      const project = r % opts.projects;
      const [type, unit, price, typical] = METRICS[r % METRICS.length]!;
      const qty = round(typical * (0.5 + random()), 3);
      (usage[type] ??= []).push({
        vol: { unit, qty },
        rating: { price: round(qty * price, 6) },
        groupby: { project_id: projectIds[project]!, id: `res-${String(r).padStart(6, "0")}`, user_id: `user-${project % 7}` },
        metadata: { flavor_name: flavors[r % flavors.length]!, availability_zone: `az-${r % 3}`, year: new Date(begin).getUTCFullYear() },
      });
    }
    left -= n;
    yield { period: { begin: formatTimestamp(begin), end: formatTimestamp(begin + opts.periodSeconds * 1000) }, usage };
  }
}
