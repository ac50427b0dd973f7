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

/** Parses or throws a ValidationError that names every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string, prefix: readonly PropertyKey[] = []): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error, prefix);
  const head = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join("; ");
  throw new ValidationError(`Invalid ${what}: ${head}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ""}`, issues);
}
