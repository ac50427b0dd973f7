/**
 * The calendar rollups are cut by: UTC days and months, and the names of their state documents and
 * rollup keys. Pure: shared by the writer's marks, the builder and the reads.
 */

export const DAY_MS = 86_400_000;

/** The start of the UTC day holding `ms`. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/** The start of the UTC month holding `ms`. */
export function monthOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The start of the month after the one starting at `month`. */
export function nextMonth(month: number): number {
  const d = new Date(month);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** The days of the month starting at `month`, in order. */
export function daysOfMonth(month: number): number[] {
  const days: number[] = [];
  for (let d = month, end = nextMonth(month); d < end; d += DAY_MS) days.push(d);
  return days;
}

/** `2026-12-07`. */
export const dayText = (day: number): string => new Date(day).toISOString().slice(0, 10);

/** `2026-12`. */
export const monthText = (month: number): string => new Date(month).toISOString().slice(0, 7);

/** The id of a day's state document. */
export const dayStateId = (day: number): string => `day-${dayText(day)}`;

/** The id of a month's state document. */
export const monthStateId = (month: number): string => `month-${monthText(month)}`;

/** What a day's rollup documents carry in `rollup`: the level, the day and the build that made them. */
export const dayRollupKey = (day: number, build: string): string => `d:${dayText(day)}:${build}`;

/** The same for a month's rollup documents. */
export const monthRollupKey = (month: number, build: string): string => `m:${monthText(month)}:${build}`;

/** The prefix every rollup key of a day (or month) starts with, whatever the build. */
export const dayKeyPrefix = (day: number): string => `d:${dayText(day)}:`;
export const monthKeyPrefix = (month: number): string => `m:${monthText(month)}:`;
