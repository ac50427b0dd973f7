/** Dataframes written as CloudKitty's output JSON, amounts exact. */
import type { DataFrame } from "./dataframe.js";
import { formatNanos } from "./decimal.js";
import { formatTimestamp } from "./time.js";

/**
 * A dataframe in CloudKitty's output form as JSON text: `{"period": {"begin", "end"}, "usage": {type:
 * [{"vol": {"unit", "qty"}, "rating": {"price"}, "groupby", "metadata"}]}}`, amounts as exact number
 * literals. The one writer of dataframes: retrieve pages, `paginate=false` and exports all go through
 * it, written directly rather than by building output objects (exports write every stored point).
 */
export function dataFrameJson(df: DataFrame): string {
  // Each type's items are appended to one string with `+`: V8 keeps the pieces as a rope and copies
  // them once, when the line is written. Template literals and join() copied every item twice more:
  // 2.5 times slower, and this runs for every exported point.
  const byType = new Map<string, string>();
  for (const p of df.points) {
    const item =
      '{"vol":{"unit":' +
      JSON.stringify(p.unit) +
      ',"qty":' +
      formatNanos(p.qty) +
      '},"rating":{"price":' +
      formatNanos(p.price) +
      '},"groupby":' +
      JSON.stringify(p.groupby) +
      ',"metadata":' +
      JSON.stringify(p.metadata) +
      "}";
    const items = byType.get(p.type);
    byType.set(p.type, items === undefined ? item : items + "," + item);
  }
  let usage = "";
  for (const [type, items] of byType) usage += (usage ? "," : "") + JSON.stringify(type) + ":[" + items + "]";
  return (
    '{"period":{"begin":' +
    JSON.stringify(formatTimestamp(df.begin)) +
    ',"end":' +
    JSON.stringify(formatTimestamp(df.end)) +
    '},"usage":{' +
    usage +
    "}}"
  );
}

/** Dataframes as NDJSON: one dataFrameJson line each, every line ended. */
export function dataFramesNdjson(frames: readonly DataFrame[]): string {
  let text = "";
  for (const df of frames) text += dataFrameJson(df) + "\n";
  return text;
}
