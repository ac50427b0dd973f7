/** Query-string parameters of the GET endpoints, parsed and turned into storage selections. */
import { ValidationError } from "../errors.js";
import type { Filters, PointSelection } from "../storage/backend.js";
import { LABEL_KEY_RE } from "../storage/dataframe.js";
import { parseTimestamp } from "../storage/time.js";

/** Query-string forms shared by the GET endpoints, turned into storage options. */

const list = (v: string | string[] | undefined): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");

export function parseWindow(begin?: string, end?: string): { begin?: number; end?: number } {
  const out: { begin?: number; end?: number } = {};
  for (const [name, value] of [
    ["begin", begin],
    ["end", end],
  ] as const) {
    if (value === undefined) continue;
    const t = parseTimestamp(value);
    if (!t.ok) throw ValidationError.forField(name, t.reason);
    out[name] = t.ms;
  }
  if (out.begin !== undefined && out.end !== undefined && out.begin >= out.end)
    throw ValidationError.forField("end", "must be after begin");
  return out;
}

/**
 * `key:value,...`: `type` selects metric types; other keys match a groupby or a metadata key, as in
 * CloudKitty, except the scope key (`project_id`), which matches groupby only: a point's metadata is the
 * pusher's to write, so a metadata `project_id` must not put one project's points into another's figures.
 */
export function parseFilters(
  raw: string | string[] | undefined,
  scopeKey?: string,
): { filters?: Filters; groupFilters?: Filters; metricTypes?: string[] } {
  const filters: Record<string, string[]> = {};
  const groupFilters: Record<string, string[]> = {};
  const types: string[] = [];
  for (const pair of list(raw)) {
    const sep = pair.indexOf(":");
    if (sep <= 0) throw ValidationError.forField("filters", `${JSON.stringify(pair)} must be key:value`);
    const key = pair.slice(0, sep).trim();
    const value = pair.slice(sep + 1).trim();
    if (!LABEL_KEY_RE.test(key))
      throw ValidationError.forField(`filters.${key}`, "is not a valid key (letters, digits, '_', '-', '@'; no dots, wildcards or spaces)");
    if (key === "type") types.push(value);
    else if (key === scopeKey) (groupFilters[key] ??= []).push(value);
    else (filters[key] ??= []).push(value);
  }
  return {
    ...(Object.keys(filters).length > 0 ? { filters } : {}),
    ...(Object.keys(groupFilters).length > 0 ? { groupFilters } : {}),
    ...(types.length > 0 ? { metricTypes: types } : {}),
  };
}

export function parseGroupby(raw: string | string[] | undefined): string[] {
  return [...new Set(list(raw))];
}

/** CloudKitty's custom_fields, reduced to what this backend sums. */
export function parseCustomFields(raw: string | undefined): ("qty" | "rate")[] {
  if (raw === undefined) return ["qty", "rate"];
  const fields: ("qty" | "rate")[] = [];
  for (const item of raw.split(",").map((s) => s.trim().toLowerCase().replace(/\s+/g, " "))) {
    if (item === "qty" || item === "sum(qty) as qty") fields.push("qty");
    else if (item === "rate" || item === "price" || item === "sum(price) as rate") fields.push("rate");
    else throw ValidationError.forField("custom_fields", `${JSON.stringify(item)} is not available: use qty and/or rate`);
  }
  return [...new Set(fields)];
}

export function selectionOf(q: { begin?: string; end?: string; filters?: string | string[] }, scopeKey: string): PointSelection {
  return { ...parseWindow(q.begin, q.end), ...parseFilters(q.filters, scopeKey) };
}
