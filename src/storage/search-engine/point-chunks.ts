/** A push cut into bulk requests, each point keeping where the push had it. */
import type { DataFrame, RatedPoint } from "../dataframe.js";
import { contentKey, documentJson, periodTexts, pointId, pointTexts, type PeriodTexts } from "./documents.js";

/** A point of a push, where the push has it: how failures name it (`dataframes[0].usage.cpu[1]`). */
export interface PointRef {
  readonly dataframe: number;
  readonly point: RatedPoint;
  /** Its position in `usage[type]`. */
  readonly index: number;
  readonly partition: string;
}

export interface PendingPoint extends PointRef {
  readonly id: string;
  /** The two NDJSON lines of this point's `create` action. */
  readonly lines: string;
}

/**
 * The accepted points of a push, their bulk lines built a chunk at a time, in order.
 *
 * A point is identified by its content (period, type, unit, qty, price, groupby, metadata) and by which
 * occurrence of that content it is within the request: the n-th occurrence in a request is the same
 * point as the n-th occurrence in any other request. So a request sent again stores nothing twice
 * (retries are idempotent), identical points sent together are all kept (CloudKitty stores every point
 * it is given), and how a request spreads its points over dataframes does not matter. Two requests can
 * only be told from one request sent twice by their content: a point sent once in each of two requests
 * is stored once. Points refused by retention are not counted: their period, and so their content,
 * differs from every accepted point's (a partition is chosen by the period's begin).
 */
export class PointChunks {
  private next = 0;
  /** The next point, prepared but left for the next chunk (this one was full by bytes). */
  private carried: PendingPoint | undefined;
  private readonly occurrences = new Map<string, number>();
  private readonly periods = new Map<number, { period: PeriodTexts; action: string }>();

  constructor(
    private readonly dataframes: readonly DataFrame[],
    private readonly points: readonly PointRef[],
    private readonly limits: { readonly docs: number; readonly bytes: number },
  ) {}

  get done(): boolean {
    return this.next >= this.points.length;
  }

  /** The next chunk: at most `docs` points and `bytes` of bulk lines (but always one point). */
  take(): PendingPoint[] {
    const chunk: PendingPoint[] = [];
    let bytes = 0;
    while (this.next < this.points.length && chunk.length < this.limits.docs) {
      // Prepared once only: preparing counts the point's occurrence, which its id depends on.
      const p = (this.carried ??= this.prepare(this.points[this.next]!));
      if (chunk.length > 0 && bytes + p.lines.length > this.limits.bytes) break;
      chunk.push(p);
      bytes += p.lines.length;
      this.carried = undefined;
      this.next++;
    }
    return chunk;
  }

  /** The points no chunk has taken. */
  remaining(): readonly PointRef[] {
    return this.points.slice(this.next);
  }

  private prepare(ref: PointRef): PendingPoint {
    const df = this.dataframes[ref.dataframe]!;
    let texts = this.periods.get(ref.dataframe);
    if (!texts) {
      texts = { period: periodTexts(df), action: `{"create":{"_index":${JSON.stringify(ref.partition)},"_id":"` };
      this.periods.set(ref.dataframe, texts);
    }
    const p = ref.point;
    const pt = pointTexts(p);
    const key = contentKey(df.begin, df.end, p, pt);
    const ordinal = this.occurrences.get(key) ?? 0;
    this.occurrences.set(key, ordinal + 1);
    const id = pointId(key, p.origin !== undefined ? `origin:${p.origin}` : ordinal); // base64url: safe inside a JSON string as it is
    return { ...ref, id, lines: `${texts.action}${id}"}}\n${documentJson(texts.period, p, id, pt)}\n` };
  }
}
