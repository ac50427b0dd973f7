/** Validation helpers: field paths and issues as the API reports them. */
import type { z } from "zod";
import { ValidationError, type FieldIssue } from "./errors.js";

/** `["dataframes", 1, "usage", "cpu", 0]` -> `dataframes[1].usage.cpu[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

export function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((i) =>
    // One issue per unknown key, addressed by the key itself rather than by its parent.
    i.code === "unrecognized_keys"
      ? i.keys.map((k) => ({ path: formatPath([...prefix, ...i.path, k]), message: "is not a known field or parameter" }))
      : [{ path: formatPath([...prefix, ...i.path]), message: i.message }],
  );
}

/**
 * Keys that JavaScript objects treat as their prototype: `JSON.parse` keeps `"__proto__"` as an own key,
 * but any copy of the object turns it into the prototype and the entry vanishes (a metric type whose
 * points are never stored, a label silently dropped). They are refused, wherever they appear.
 */
const RESERVED_KEYS = new Set(["__proto__"]);

/** Every reserved key in a parsed JSON value, by path. */
export function reservedKeyIssues(value: unknown, prefix: readonly PropertyKey[] = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  // One path, grown and shrunk as the walk goes: a push body is walked with no allocation per value.
  const path: PropertyKey[] = [...prefix];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        walk(v[i]);
        path.pop();
      }
    } else if (typeof v === "object" && v !== null) {
      for (const key of Object.keys(v)) {
        if (RESERVED_KEYS.has(key)) {
          issues.push({ path: formatPath([...path, key]), message: `${JSON.stringify(key)} is a reserved name and cannot be a key` });
          continue;
        }
        path.push(key);
        walk((v as Record<string, unknown>)[key]);
        path.pop();
      }
    }
  };
  walk(value);
  return issues;
}

/** Parses or throws a ValidationError that names every bad field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  prefix: readonly PropertyKey[] = [],
): z.output<S> {
  const reserved = reservedKeyIssues(input, prefix);
  if (reserved.length > 0) throw new ValidationError(`Invalid ${what}: ${reserved[0]!.path}: ${reserved[0]!.message}`, reserved);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error, prefix);
  const head = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  throw new ValidationError(`Invalid ${what}: ${head}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ""}`, issues);
}
