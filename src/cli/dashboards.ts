/** Imports the OpenSearch Dashboards saved objects of the project (`ratestore dashboards import`). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { indexTemplatesDir } from "../project-files.js";

/**
 * The saved objects in dashboards/ (an index pattern over the partitions, three visualizations and a
 * dashboard), adapted to the deployment's index prefix, and their import into OpenSearch Dashboards
 * (or Kibana) through its saved-objects API.
 */
export interface SavedObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: { name: string; type: string; id: string }[];
}

export function savedObjectsFile(): string {
  return join(indexTemplatesDir(), "..", "dashboards", "ratestore.ndjson");
}

export function loadSavedObjects(prefix = "ratestore"): SavedObject[] {
  const objects = readFileSync(savedObjectsFile(), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as SavedObject);
  for (const o of objects) if (o.type === "index-pattern") o.attributes.title = `${prefix}-points-*`;
  return objects;
}

/** Every document field the saved objects read: the index pattern's time field and each aggregation's field. */
export function fieldsUsed(objects: readonly SavedObject[]): string[] {
  const fields = new Set<string>();
  for (const o of objects) {
    if (o.type === "index-pattern" && typeof o.attributes.timeFieldName === "string") fields.add(o.attributes.timeFieldName);
    if (o.type === "visualization") {
      const vis = JSON.parse(String(o.attributes.visState)) as { aggs: { params?: { field?: string } }[] };
      for (const a of vis.aggs) if (a.params?.field) fields.add(a.params.field);
    }
  }
  return [...fields].sort();
}

export interface ImportResult {
  success: boolean;
  successCount?: number;
  errors?: unknown[];
}

export async function importSavedObjects(
  url: string,
  objects: readonly SavedObject[],
  auth?: { username: string; password: string },
): Promise<ImportResult> {
  const form = new FormData();
  form.append(
    "file",
    new Blob([objects.map((o) => JSON.stringify(o)).join("\n") + "\n"], { type: "application/ndjson" }),
    "ratestore.ndjson",
  );
  const res = await fetch(new URL("/api/saved_objects/_import?overwrite=true", url), {
    method: "POST",
    // OpenSearch Dashboards wants osd-xsrf, Kibana kbn-xsrf: send both.
    headers: {
      "osd-xsrf": "true",
      "kbn-xsrf": "true",
      ...(auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` } : {}),
    },
    body: form,
  });
  const body = (await res.json().catch(() => ({}))) as ImportResult & { message?: string };
  if (!res.ok) throw new Error(`import failed with ${res.status}: ${body.message ?? JSON.stringify(body)}`);
  return body;
}
