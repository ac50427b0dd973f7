/** Points grouped back into dataframes, streamed or a page at a time. */
import type { StoredPoint } from "./backend.js";
import type { DataFrame, RatedPoint } from "./dataframe.js";

/** Points per dataframe at most when streaming: a huge period is cut into several frames so memory stays flat. */
export const MAX_POINTS_PER_FRAME = 1000;

/** Collects adjacent points of one period into a dataframe; hands over the frame it closes. */
class FrameCollector {
  private current: { begin: number; end: number; points: RatedPoint[] } | undefined;

  constructor(private readonly maxPoints: number) {}

  /** Adds a point; returns the previous frame when this point closes it. */
  add(sp: StoredPoint): DataFrame | undefined {
    let closed: DataFrame | undefined;
    const c = this.current;
    if (c && (c.begin !== sp.begin || c.end !== sp.end || c.points.length >= this.maxPoints)) {
      closed = c;
      this.current = undefined;
    }
    (this.current ??= { begin: sp.begin, end: sp.end, points: [] }).points.push(sp.point);
    return closed;
  }

  /** The frame still open, if any. */
  finish(): DataFrame | undefined {
    const c = this.current;
    this.current = undefined;
    return c;
  }
}

/** Groups an ordered stream of points into dataframes without holding more than one frame. */
export async function* framesOf(points: AsyncIterable<StoredPoint>, maxPoints = MAX_POINTS_PER_FRAME): AsyncGenerator<DataFrame> {
  const collector = new FrameCollector(maxPoints);
  for await (const sp of points) {
    const closed = collector.add(sp);
    if (closed) yield closed;
  }
  const last = collector.finish();
  if (last) yield last;
}

/**
 * The dataframes of one page of points, grouped by period (points of one period already adjacent) and
 * cut at `maxPoints`: a page is turned into text at once, so that its objects die young.
 */
export function framesOfPage(points: readonly StoredPoint[], maxPoints = MAX_POINTS_PER_FRAME): DataFrame[] {
  const collector = new FrameCollector(maxPoints);
  const frames: DataFrame[] = [];
  for (const sp of points) {
    const closed = collector.add(sp);
    if (closed) frames.push(closed);
  }
  const last = collector.finish();
  if (last) frames.push(last);
  return frames;
}
