import { ValidationError } from "../../errors.js";
import type { FilterValue, PointScope } from "../backend.js";
import { LABEL_KEY_RE, type Scalar } from "../dataframe.js";
import { currentMonthWindow } from "../time.js";

/** A query clause, as sent to the cluster. */
export type Clause = Record<string, unknown>;

/** CloudKitty's default window for reads: the current month. Deletes have no default window. */
export function withDefaultWindow<S extends PointScope>(scope: S, now = Date.now()): S & { begin: number; end: number } {
  const month = currentMonthWindow(now);
  return { ...scope, begin: scope.begin ?? month.begin, end: scope.end ?? month.end };
}

function asList(value: FilterValue): readonly Scalar[] {
  return Array.isArray(value) ? (value as readonly Scalar[]) : [value as Scalar];
}

function checkKey(key: string, where: string): void {
  if (!LABEL_KEY_RE.test(key)) throw ValidationError.forField(`${where}.${key}`, "is not a valid groupby/metadata key (letters, digits, '_', '-', '@'; no dots, wildcards or spaces)");
}

/** Matches points whose `field` equals any of the values; a null value matches points that lack the field. */
function valueClause(fields: readonly string[], value: FilterValue): Clause {
  const values = asList(value);
  const present = values.filter((v): v is string | number | boolean => v !== null).map(String);
  const wantsMissing = values.some((v) => v === null);
  const should: Clause[] = [];
  for (const f of fields) if (present.length > 0) should.push({ terms: { [f]: present } });
  if (wantsMissing) should.push({ bool: { must_not: fields.map((f) => ({ exists: { field: f } })) } });
  return { bool: { should, minimum_should_match: 1 } };
}

export function scopeQuery(scope: PointScope): Clause {
  const filter: Clause[] = [];
  if (scope.begin !== undefined) filter.push({ range: { start: { gte: scope.begin, format: "epoch_millis" } } });
  if (scope.end !== undefined) filter.push({ range: { end: { lte: scope.end, format: "epoch_millis" } } });
  if (scope.metricTypes !== undefined) {
    const types = typeof scope.metricTypes === "string" ? [scope.metricTypes] : [...scope.metricTypes];
    filter.push({ terms: { type: types } });
  }
  for (const [key, value] of Object.entries(scope.groupFilters ?? {})) {
    checkKey(key, "group_filters");
    filter.push(valueClause([`groupby.${key}`], value));
  }
  for (const [key, value] of Object.entries(scope.filters ?? {})) {
    checkKey(key, "filters");
    filter.push(valueClause([`groupby.${key}`, `metadata.${key}`], value));
  }
  return { bool: { filter } };
}
