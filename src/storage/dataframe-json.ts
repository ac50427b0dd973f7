import type { DataFrame } from "./dataframe.js";
import { formatNanos } from "./decimal.js";
import { formatTimestamp } from "./time.js";

/**
 * A dataframe in CloudKitty's output form as JSON text, written directly: the same document as
 * `stringifyExact(dataFrameToOutput(df))` (exact amounts as number literals), without building the
 * output objects and without the marker pass. Exports write every stored point through it.
 */
export function dataFrameJson(df: DataFrame): string {
  const byType = new Map<string, string[]>();
  for (const p of df.points) {
    const item = `{"vol":{"unit":${JSON.stringify(p.unit)},"qty":${formatNanos(p.qty)}},"rating":{"price":${formatNanos(p.price)}},"groupby":${JSON.stringify(p.groupby)},"metadata":${JSON.stringify(p.metadata)}}`;
    const list = byType.get(p.type);
    if (list) list.push(item);
    else byType.set(p.type, [item]);
  }
  let usage = "";
  for (const [type, items] of byType) usage += `${usage ? "," : ""}${JSON.stringify(type)}:[${items.join(",")}]`;
  return `{"period":{"begin":${JSON.stringify(formatTimestamp(df.begin))},"end":${JSON.stringify(formatTimestamp(df.end))}},"usage":{${usage}}}`;
}

/** Dataframes as NDJSON: one dataFrameJson line each, every line ended. */
export function dataFramesNdjson(frames: readonly DataFrame[]): string {
  let text = "";
  for (const df of frames) text += dataFrameJson(df) + "\n";
  return text;
}
