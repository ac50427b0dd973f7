/**
 * The query a summary sends: raw points alone, or, where rollups stand for whole days of its window,
 * one search over both (rollup-plan.ts decides which days), from the states as they are when the read
 * begins.
 */
import type { PointSelection, TimeGroup } from "../../backend.js";
import { labelFilters, selectionQuery, type Clause } from "../query.js";
import { planRollups, type RollupPlan } from "./rollup-plan.js";
import type { RollupStates } from "./rollup-states.js";

/** What reads report of their plans, for metrics. */
export interface TotalObserver {
  totalPlan(plan: RollupPlan): void;
}

export class RollupReads {
  constructor(
    private readonly states: RollupStates,
    /** Whether month rollups exist (month and year partitions). */
    private readonly monthLevel: boolean,
    private readonly observer: TotalObserver,
  ) {}

  /**
   * The summary's query over `selection`. The states of a window of up to a year or so are read by id,
   * realtime, beside the summary's refresh (`refreshed`); a longer window's are searched once that
   * refresh is done, after one of the states index. Either way the read sees every write answered before
   * it began.
   */
  async query(
    selection: PointSelection & { begin: number; end: number },
    time: TimeGroup | undefined,
    refreshed: Promise<void>,
  ): Promise<PlannedQuery> {
    const metadataFilters = Object.keys(selection.filters ?? {}).length > 0;
    const needsStates = !metadataFilters && time !== "time";
    const states = needsStates
      ? ((await this.states.windowRealtime(selection.begin, selection.end)) ??
        (await refreshed, await this.states.window(selection.begin, selection.end)))
      : { days: new Map(), months: new Map() };
    const plan = planRollups({
      begin: selection.begin,
      end: selection.end,
      metadataFilters,
      monthLevel: this.monthLevel,
      ...states,
      ...(time ? { time } : {}),
    });
    this.observer.totalPlan(plan);
    return rollupQuery(selection, plan);
  }
}

/** A summary's search, and the limb fields it needs summed where that is known to be fewer than all. */
export interface PlannedQuery {
  readonly query: Clause;
  /** Undefined: every limb (raw points are read, or a build read did not record its limbs). */
  readonly limbs?: readonly string[];
}

/** The parts of [begin, end) that `covered` (ordered, disjoint) leaves out. */
export function uncovered(
  begin: number,
  end: number,
  covered: readonly { start: number; end: number }[],
): { start: number; end: number }[] {
  const gaps: { start: number; end: number }[] = [];
  let from = begin;
  for (const c of covered) {
    if (c.start > from) gaps.push({ start: from, end: Math.min(c.start, end) });
    from = Math.max(from, c.end);
  }
  if (from < end) gaps.push({ start: from, end });
  return gaps.filter((g) => g.end > g.start);
}

/**
 * The search of a plan: the rollup documents standing for the covered days, and raw points only where
 * the window is not covered. The raw part names the uncovered ranges of `start` rather than excluding
 * the covered ones, so the cluster reads the points of a dirty day, not every point of the month to
 * leave most of them out; a month served whole from rollups has no raw part.
 */
export function rollupQuery(selection: PointSelection & { begin: number; end: number }, plan: RollupPlan): PlannedQuery {
  if (plan.served === "raw") return { query: selectionQuery(selection) };
  const labels = labelFilters({ metricTypes: selection.metricTypes, groupFilters: selection.groupFilters });
  const rollups: Clause = { bool: { filter: [{ terms: { rollup: plan.keys } }, ...labels] } };
  const gaps = uncovered(selection.begin, selection.end, plan.covered);
  if (gaps.length === 0) return { query: rollups, ...(plan.limbs ? { limbs: plan.limbs } : {}) };
  const starts = gaps.map((g) => ({ range: { start: { gte: g.start, lt: g.end, format: "epoch_millis" } } }));
  const raw: Clause = {
    bool: {
      filter: [
        starts.length === 1 ? starts[0]! : { bool: { should: starts, minimum_should_match: 1 } },
        { range: { end: { lte: selection.end, format: "epoch_millis" } } },
        ...labels,
      ],
    },
  };
  return { query: { bool: { should: [raw, rollups], minimum_should_match: 1 } } };
}
