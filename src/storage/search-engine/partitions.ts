/** Time partitions: which index holds a point, and which indices a window reads. */
import type { PartitionGranularity } from "../../config.js";

/**
 * Time partitions: each point goes to the index of its period's last instant (`<prefix>-points-2019.07`
 * for monthly partitions), and every read goes through the `<prefix>-points` alias that the index
 * template puts on each partition. The partition name alone says which data it holds, which is what
 * retention keys on: every point ends within its partition, so none outlives its partition's end.
 */
export class Partitions {
  constructor(
    readonly prefix: string,
    readonly granularity: PartitionGranularity,
  ) {}

  /** The read alias over all partitions. */
  get alias(): string {
    return `${this.prefix}-points`;
  }

  /** The pattern every partition matches (index template, Dashboards index pattern). */
  get pattern(): string {
    return `${this.prefix}-points-*`;
  }

  /**
   * The partition of a period: that of its last instant. A period within one partition (every aligned
   * CloudKitty period) lands where its begin is; one that runs past its begin's partition (a 2-day
   * period over day partitions) lands where it ends, so that retention, which deletes a partition once
   * its end is older than the retention, never deletes a point before its own end is. A read of
   * [begin, end) matches points ending by `end`, which are all in the partitions it refreshes.
   */
  partitionOf(period: { readonly begin: number; readonly end: number }): string {
    return this.indexFor(Math.max(period.begin, period.end - 1));
  }

  /** The partition holding the instant `ms`. */
  indexFor(ms: number): string {
    const d = new Date(ms);
    const y = String(d.getUTCFullYear()).padStart(4, "0");
    const m = String(d.getUTCMonth() + 1).padStart(2, "0");
    const day = String(d.getUTCDate()).padStart(2, "0");
    switch (this.granularity) {
      case "year":
        return `${this.alias}-${y}`;
      case "month":
        return `${this.alias}-${y}.${m}`;
      case "day":
        return `${this.alias}-${y}.${m}.${day}`;
    }
  }

  /**
   * The partitions that can hold points starting in [begin, end), oldest first; undefined when there
   * are more than `max` of them (a long window of daily partitions), for the caller to use the alias.
   */
  indicesBetween(begin: number, end: number, max: number): string[] | undefined {
    const names: string[] = [];
    for (let t = begin; t < end;) {
      if (names.length === max) return undefined;
      const name = this.indexFor(t);
      names.push(name);
      t = this.rangeOf(name)!.end;
    }
    return names;
  }

  /** The time range [start, end) an index holds, from its name; undefined for an index not named by this scheme. */
  rangeOf(index: string): { start: number; end: number } | undefined {
    const suffix = index.startsWith(`${this.alias}-`) ? index.slice(this.alias.length + 1) : undefined;
    if (!suffix) return undefined;
    const m = /^(\d{4})(?:\.(\d{2}))?(?:\.(\d{2}))?$/.exec(suffix);
    if (!m) return undefined;
    const y = Number(m[1]);
    if (m[3] !== undefined) {
      const start = Date.UTC(y, Number(m[2]) - 1, Number(m[3]));
      return { start, end: start + 86_400_000 };
    }
    if (m[2] !== undefined) return { start: Date.UTC(y, Number(m[2]) - 1, 1), end: Date.UTC(y, Number(m[2]), 1) };
    return { start: Date.UTC(y, 0, 1), end: Date.UTC(y + 1, 0, 1) };
  }
}
