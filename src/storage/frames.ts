import type { StoredPoint } from "./backend.js";
import type { DataFrame, RatedPoint } from "./dataframe.js";

/** Points per dataframe at most when streaming: a huge period is cut into several frames so memory stays flat. */
export const MAX_POINTS_PER_FRAME = 1000;

/** Groups an ordered stream of points into dataframes without holding more than one frame. */
export async function* framesOf(points: AsyncIterable<StoredPoint>, maxPoints = MAX_POINTS_PER_FRAME): AsyncGenerator<DataFrame> {
  let current: { begin: number; end: number; points: RatedPoint[] } | undefined;
  for await (const sp of points) {
    if (current && (current.begin !== sp.begin || current.end !== sp.end || current.points.length >= maxPoints)) {
      yield current;
      current = undefined;
    }
    current ??= { begin: sp.begin, end: sp.end, points: [] };
    current.points.push(sp.point);
  }
  if (current) yield current;
}

/**
 * The dataframes of one page of points, grouped by period (points of one period already adjacent) and
 * cut at `maxPoints`: a page is turned into text at once, so that its objects die young.
 */
export function framesOfPage(points: readonly StoredPoint[], maxPoints = MAX_POINTS_PER_FRAME): DataFrame[] {
  const frames: DataFrame[] = [];
  let current: { begin: number; end: number; points: RatedPoint[] } | undefined;
  for (const sp of points) {
    if (current && (current.begin !== sp.begin || current.end !== sp.end || current.points.length >= maxPoints)) {
      frames.push(current);
      current = undefined;
    }
    current ??= { begin: sp.begin, end: sp.end, points: [] };
    current.points.push(sp.point);
  }
  if (current) frames.push(current);
  return frames;
}
