/**
 * The points index template, adapted to the configuration and the cluster profile, and its
 * installation.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { StorageConfig } from "../../config.js";
import type { ClusterProfile } from "./cluster-profile.js";
import type { Logger } from "../../logger.js";
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";
import { indexTemplatesDir } from "../../project-files.js";
import { POINT_SORT } from "./point-order.js";

const TemplateFileSchema = z.object({
  version: z.number().int().positive(),
  priority: z.number().int().optional(),
  _meta: z.record(z.string(), z.unknown()).optional(),
  template: z.object({
    settings: z.object({ index: z.record(z.string(), z.unknown()) }),
    mappings: z.record(z.string(), z.unknown()).and(z.object({ properties: z.record(z.string(), z.unknown()) })),
  }),
});
export type TemplateFile = z.infer<typeof TemplateFileSchema>;

export function loadTemplateFile(name: string): TemplateFile {
  const path = join(indexTemplatesDir(), "search-engine", name);
  return TemplateFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

/** The mappings without multi-fields (`fields`): RATESTORE_CLOUDKITTY_FIELDS=false. */
function withoutSubFields<T>(mappings: T): T {
  return JSON.parse(JSON.stringify(mappings), (key, value: unknown) => (key === "fields" ? undefined : value)) as T;
}

/**
 * The replica settings of every index ratestore creates (partitions and the sweeper's locks), so that a
 * single-node cluster stays green: `auto_expand_replicas` 0-1 by default, or RATESTORE_REPLICAS.
 */
export function replicaSettings(config: Pick<StorageConfig, "replicas">): Record<string, string | number> {
  return config.replicas === "auto" ? { auto_expand_replicas: "0-1" } : { number_of_replicas: config.replicas };
}

/** The points template adapted to this deployment: its patterns, alias, the configured settings and what the cluster can do. */
export function buildPointsTemplate(
  file: TemplateFile,
  partitions: Partitions,
  config: StorageConfig,
  profile: Pick<ClusterProfile, "docValueQueries" | "metadataMapping">,
) {
  const index: Record<string, unknown> = { ...file.template.settings.index };
  index.number_of_shards = config.shards;
  index.refresh_interval = config.refreshInterval;
  index.codec = config.indexCodec;
  if (config.indexSort) {
    // The same order as POINT_SORT, so that search_after pages stop early in every segment.
    index["sort.field"] = POINT_SORT.map((s) => Object.keys(s)[0]!);
    index["sort.order"] = POINT_SORT.map((s) => Object.values(s)[0]!);
  }
  delete index.auto_expand_replicas;
  Object.assign(index, replicaSettings(config));
  let mappings = config.cloudkittyFields ? file.template.mappings : withoutSubFields(file.template.mappings);
  if (profile.docValueQueries === "keyword")
    mappings = { ...mappings, properties: { ...mappings.properties, point_id: { type: "keyword", index: false } } };
  if (profile.metadataMapping !== "none")
    mappings = { ...mappings, properties: { ...mappings.properties, metadata: { type: profile.metadataMapping } } };
  const body = {
    index_patterns: [partitions.pattern],
    priority: file.priority ?? 200,
    version: file.version,
    template: { settings: { index }, mappings, aliases: { [partitions.alias]: {} } },
  };
  // The fingerprint lets init() notice a configuration change (shards, replicas...) at the same version.
  const fingerprint = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 16);
  return { ...body, _meta: { ...(file._meta ?? {}), managed_by: "ratestore", fingerprint } };
}

interface InstalledTemplates {
  index_templates?: { name: string; index_template: { version?: number; _meta?: { fingerprint?: string } } }[];
}

export type TemplateAction = "created" | "updated" | "unchanged" | "kept-newer";

/**
 * Installs or updates the points template. Safe to run from several instances at once: creation uses
 * `create=true` so only one wins, and an update only ever moves the version forward.
 */
export async function installPointsTemplate(
  client: ClusterClient,
  partitions: Partitions,
  config: StorageConfig,
  profile: ClusterProfile,
  logger: Logger,
): Promise<TemplateAction> {
  const name = partitions.alias;
  const file = loadTemplateFile("points.template.json");
  const wanted = buildPointsTemplate(file, partitions, config, profile);
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await client.request<InstalledTemplates>({ method: "GET", path: `/_index_template/${name}` }, [404]);
    const installed = current.status === 404 ? undefined : current.body.index_templates?.[0]?.index_template;
    if (!installed) {
      const res = await client.request(
        { method: "PUT", path: `/_index_template/${name}`, querystring: { create: true }, body: wanted },
        [400],
      );
      if (res.status === 400) continue; // another instance created it meanwhile: compare again
      logger.info("index template created", { template: name, version: wanted.version });
      return "created";
    }
    const installedVersion = installed.version ?? 0;
    if (installedVersion > wanted.version) {
      logger.warn("index template is newer than this release; leaving it", {
        template: name,
        installed: installedVersion,
        ours: wanted.version,
      });
      return "kept-newer";
    }
    if (installedVersion === wanted.version && installed._meta?.fingerprint === wanted._meta.fingerprint) return "unchanged";
    await client.request({ method: "PUT", path: `/_index_template/${name}`, body: wanted });
    if (installedVersion < wanted.version) {
      // New fields reach existing partitions too, one by one: a field whose mapping changed between
      // versions (metadata left the index in version 2) keeps its old form in the partitions that have it.
      for (const [field, mapping] of Object.entries(wanted.template.mappings.properties)) {
        const res = await client.request(
          {
            method: "PUT",
            path: `/${partitions.pattern}/_mapping`,
            querystring: { allow_no_indices: true },
            body: { properties: { [field]: mapping } },
          },
          [400, 404],
        );
        if (res.status === 400) logger.info("existing partitions keep their earlier mapping of a field", { field });
      }
    }
    logger.info("index template updated", { template: name, from: installedVersion, to: wanted.version });
    return "updated";
  }
  throw new Error(`could not install index template ${name}: it kept changing under us`);
}

export async function templateInstalled(client: ClusterClient, partitions: Partitions): Promise<boolean> {
  const res = await client.request({ method: "GET", path: `/_index_template/${partitions.alias}` }, [404]);
  return res.status === 200;
}
