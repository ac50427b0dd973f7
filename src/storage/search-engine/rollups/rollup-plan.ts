/**
 * Which parts of a summary's window are answered from rollups and which from raw points (pure: unit
 * tested). A whole UTC day inside the window is answered from its rollup while its state says clean; a
 * whole month from the month's rollup while every one of its days is still at the build the month was
 * made from. Everything else (partial days at the window's edges, dirty days, days with no rollup) is
 * read from raw points in the same search, so the answer is the one raw points give.
 */
import type { TimeGroup } from "../../backend.js";
import { DAY_MS, dayOf, daysOfMonth, dayRollupKey, monthOf, monthRollupKey, nextMonth } from "./rollup-calendar.js";

/** A day's state: `clean` at a build, `dirty` (changed since), or `raw` (its points cannot be rolled up). */
export interface DayState {
  readonly status: "clean" | "dirty" | "raw";
  /** The build whose rollup documents hold the day, while clean. */
  readonly build?: string;
  /** The limb fields that are not zero in some rollup document of that build; unknown for builds that did not record them. */
  readonly limbs?: readonly string[];
}

/** A month's rollup: its build and the builds of its days it was made from (monthSignature). */
export interface MonthState {
  readonly build: string;
  readonly days: string;
  /** As DayState's. */
  readonly limbs?: readonly string[];
}

/**
 * The builds of a month's days, in order, as one text: a month rollup is valid while this is unchanged.
 * A day with no state is `-` (it held no points when the month was built); undefined when a day is not
 * clean (the month cannot be rolled up now).
 */
export function monthSignature(month: number, days: ReadonlyMap<number, DayState>): string | undefined {
  const builds: string[] = [];
  for (const day of daysOfMonth(month)) {
    const state = days.get(day);
    if (!state) builds.push("-");
    else if (state.status === "clean" && state.build) builds.push(state.build);
    else return undefined;
  }
  return builds.join(",");
}

export interface PlanInput {
  readonly begin: number;
  readonly end: number;
  /** The summary's time grouping: `time` (by period) needs raw points; `time-d|w` cannot use month rollups. */
  readonly time?: TimeGroup;
  /** Whether the summary filters on keys that may be metadata (`filters`): rollups do not keep metadata. */
  readonly metadataFilters: boolean;
  /** Whether month rollups exist (a month lies within one partition: month and year partitions). */
  readonly monthLevel: boolean;
  readonly days: ReadonlyMap<number, DayState>;
  readonly months: ReadonlyMap<number, MonthState>;
}

export type FallbackReason = "metadata_filters" | "time_by_period" | "no_clean_day";

export type RollupPlan =
  | {
      readonly served: "rollups";
      /** The `rollup` keys of the rollup documents to read. */
      readonly keys: readonly string[];
      /** Ranges of `start` ([start, end)) whose raw points the rollups stand for: raw points there are not read. */
      readonly covered: readonly { readonly start: number; readonly end: number }[];
      /** Whole days of the window answered from rollups, and the rest (partial days count as one). */
      readonly rollupDays: number;
      readonly rawDays: number;
      /**
       * The limb fields that are not zero in some rollup document read, where every build read recorded
       * them: the other limbs' sums are zero there, so only these need summing where no raw point is read.
       */
      readonly limbs?: readonly string[];
    }
  | { readonly served: "raw"; readonly reason: FallbackReason; readonly rawDays: number };

/** The days of [begin, end) counted as a summary serves them: whole days, and each partial day as one. */
function windowDays(begin: number, end: number): number {
  return end <= begin ? 0 : Math.round((dayOf(end - 1) - dayOf(begin)) / DAY_MS) + 1;
}

export function planRollups(input: PlanInput): RollupPlan {
  const { begin, end } = input;
  const rawDays = windowDays(begin, end);
  if (input.metadataFilters) return { served: "raw", reason: "metadata_filters", rawDays };
  if (input.time === "time") return { served: "raw", reason: "time_by_period", rawDays };
  const useMonths = input.monthLevel && input.time !== "time-d" && input.time !== "time-w";
  // Only days and months that have states can be served from rollups: the plan walks them, not the
  // window (which may span centuries).
  const firstWhole = dayOf(begin) < begin ? dayOf(begin) + DAY_MS : dayOf(begin);
  const parts: { start: number; end: number; key: string; days: number; limbs: readonly string[] | undefined }[] = [];
  const months = new Set<number>();
  if (useMonths) {
    for (const [month, state] of input.months) {
      const monthEnd = nextMonth(month);
      if (month < firstWhole || monthEnd > end || state.days !== monthSignature(month, input.days)) continue;
      months.add(month);
      const days = Math.round((monthEnd - month) / DAY_MS);
      parts.push({ start: month, end: monthEnd, key: monthRollupKey(month, state.build), days, limbs: state.limbs });
    }
  }
  for (const [day, state] of input.days) {
    if (day < firstWhole || day + DAY_MS > end || months.has(monthOf(day))) continue;
    if (state.status === "clean" && state.build)
      parts.push({ start: day, end: day + DAY_MS, key: dayRollupKey(day, state.build), days: 1, limbs: state.limbs });
  }
  if (parts.length === 0) return { served: "raw", reason: "no_clean_day", rawDays };
  parts.sort((a, b) => a.start - b.start);
  const covered: { start: number; end: number }[] = [];
  for (const p of parts) {
    const last = covered[covered.length - 1];
    if (last && last.end === p.start) last.end = p.end;
    else covered.push({ start: p.start, end: p.end });
  }
  const rollupDays = parts.reduce((n, p) => n + p.days, 0);
  const limbs = parts.every((p) => p.limbs !== undefined) ? [...new Set(parts.flatMap((p) => p.limbs!))].sort() : undefined;
  return {
    served: "rollups",
    keys: parts.map((p) => p.key),
    covered,
    rollupDays,
    rawDays: rawDays - rollupDays,
    ...(limbs ? { limbs } : {}),
  };
}
