/** The query clauses of a selection: window, types and filters. */
import { ValidationError } from "../../errors.js";
import type { FilterValue, PointSelection } from "../backend.js";
import { LABEL_KEY_RE, type Scalar } from "../dataframe.js";
import { metadataTerm } from "./documents.js";

/** A query clause, as sent to the cluster. */
export type Clause = Record<string, unknown>;

function asList(value: FilterValue): readonly Scalar[] {
  return Array.isArray(value) ? (value as readonly Scalar[]) : [value as Scalar];
}

function checkKey(key: string, where: string): void {
  if (!LABEL_KEY_RE.test(key))
    throw ValidationError.forField(
      `${where}.${key}`,
      "is not a valid groupby/metadata key (letters, digits, '_', '-', '@'; no dots, wildcards or spaces)",
    );
}

/**
 * Matches points whose groupby key (and, with `metadata`, metadata key) equals any of the values; a
 * null value matches points that lack the key. Metadata is matched on `metadata_kv` terms, and on
 * `metadata.<key>` for partitions written before metadata left the mapping (template version 1).
 */
function valueClause(key: string, value: FilterValue, metadata: boolean): Clause {
  const values = asList(value);
  const present = values.filter((v): v is string | number | boolean => v !== null);
  const wantsMissing = values.some((v) => v === null);
  const fields = metadata ? [`groupby.${key}`, `metadata.${key}`] : [`groupby.${key}`];
  const should: Clause[] = [];
  if (present.length > 0) {
    for (const f of fields) should.push({ terms: { [f]: present.map(String) } });
    if (metadata) should.push({ terms: { metadata_kv: present.map((v) => metadataTerm(key, v)) } });
  }
  if (wantsMissing) {
    const absent: Clause[] = fields.map((f) => ({ exists: { field: f } }));
    if (metadata) absent.push({ prefix: { metadata_kv: `${key}=` } });
    should.push({ bool: { must_not: absent } });
  }
  return { bool: { should, minimum_should_match: 1 } };
}

/** The clauses of a selection on labels: types, groupby filters and filters (groupby or metadata). */
export function labelFilters(selection: Pick<PointSelection, "metricTypes" | "groupFilters" | "filters">): Clause[] {
  const filter: Clause[] = [];
  if (selection.metricTypes !== undefined) {
    const types = typeof selection.metricTypes === "string" ? [selection.metricTypes] : [...selection.metricTypes];
    filter.push({ terms: { type: types } });
  }
  for (const [key, value] of Object.entries(selection.groupFilters ?? {})) {
    checkKey(key, "group_filters");
    filter.push(valueClause(key, value, false));
  }
  for (const [key, value] of Object.entries(selection.filters ?? {})) {
    checkKey(key, "filters");
    filter.push(valueClause(key, value, true));
  }
  return filter;
}

/**
 * The points of a selection. Rollup documents (rollups/) have a `start` and no `end`: the `end` range keeps
 * them out, and a selection with no end excludes them by name.
 */
export function selectionQuery(selection: PointSelection): Clause {
  const filter: Clause[] = [];
  if (selection.begin !== undefined) filter.push({ range: { start: { gte: selection.begin, format: "epoch_millis" } } });
  if (selection.end !== undefined) filter.push({ range: { end: { lte: selection.end, format: "epoch_millis" } } });
  filter.push(...labelFilters(selection));
  return selection.end === undefined ? { bool: { filter, must_not: [{ exists: { field: "rollup" } }] } } : { bool: { filter } };
}
