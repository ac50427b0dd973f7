import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "chai";
import winston from "winston";
import { loadConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { createLogger } from "../../src/logger.js";
import { SearchEngineBackend } from "../../src/storage/search-engine/backend.js";
import { parseProfileOverride, type ClusterProfile } from "../../src/storage/search-engine/cluster-profile.js";
import { sumAggregations, TotalAggregator } from "../../src/storage/search-engine/aggregations.js";
import { collectTotal, retrieve } from "../../src/storage/reads.js";
import { ClusterClient, type ClusterRequest, type ClusterResponse } from "../../src/storage/search-engine/client.js";
import { ilmPolicyBody } from "../../src/storage/search-engine/retention/ilm-retention.js";
import { IsmRetention, ismPolicyBody } from "../../src/storage/search-engine/retention/ism-retention.js";
import { Lifecycle, partitionSettings } from "../../src/storage/search-engine/retention/lifecycle.js";
import { Partitions } from "../../src/storage/search-engine/partitions.js";
import { pitRequests } from "../../src/storage/search-engine/pit.js";
import { deriveProfile, type ClusterFacts } from "../../src/storage/search-engine/profile-detection.js";
import { PointReader } from "../../src/storage/search-engine/reader.js";
import { PointSearch } from "../../src/storage/search-engine/search.js";
import { buildPointsTemplate, loadTemplateFile } from "../../src/storage/search-engine/templates.js";
import { planRollups } from "../../src/storage/search-engine/rollups/rollup-plan.js";
import { rollupQuery } from "../../src/storage/search-engine/rollups/rollup-reads.js";
import { RollupStates } from "../../src/storage/search-engine/rollups/rollup-states.js";
import { DayMarks } from "../../src/storage/search-engine/rollups/write-marks.js";
import { TotalQueries } from "../../src/storage/search-engine/total-queries.js";

/**
 * Golden request fixtures per subject and flavour range (as Jaeger pins `*.es8-9.json`): what the
 * service sends to each engine flavour, including to lifecycle engines (ILM) that cannot run on this
 * machine, one file per subject for the flavours that send the same. A change to one request is one
 * hunk of test/fixtures/requests/; `UPDATE_GOLDEN=1` rewrites the files after a deliberate change.
 */

const FLAVOURS: Record<string, ClusterFacts> = {
  "opensearch-3.6.0": { distribution: "opensearch", version: "3.6.0", components: ["transport-netty4"], identifiedBy: "root" },
  "opensearch-3.6.0-ism": {
    distribution: "opensearch",
    version: "3.6.0",
    components: ["transport-netty4", "opensearch-job-scheduler", "opensearch-index-management"],
    identifiedBy: "root",
  },
  "opensearch-2.19.6": { distribution: "opensearch", version: "2.19.6", components: ["transport-netty4"], identifiedBy: "root" },
  "opensearch-2.19.6-ism": {
    distribution: "opensearch",
    version: "2.19.6",
    components: ["transport-netty4", "opensearch-job-scheduler", "opensearch-index-management"],
    identifiedBy: "root",
  },
  "elasticsearch-8.19.21": {
    distribution: "elasticsearch",
    version: "8.19.21",
    components: ["apm", "transport-netty4", "x-pack-core", "x-pack-security"],
    identifiedBy: "nodes",
  },
  "elasticsearch-8.19.21-ilm": {
    distribution: "elasticsearch",
    version: "8.19.21",
    components: ["transport-netty4", "x-pack-core", "x-pack-ilm"],
    identifiedBy: "root",
  },
  "elasticsearch-7.17.29": {
    distribution: "elasticsearch",
    version: "7.17.29",
    components: ["transport-netty4", "x-pack-core", "x-pack-security"],
    identifiedBy: "root",
  },
  "elasticsearch-7.10.2": { distribution: "elasticsearch", version: "7.10.2", components: ["transport-netty4"], identifiedBy: "root" },
};

const silent = winston.createLogger({ silent: true });
const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/**
 * The locate steps' answers for one start of 30,000 points of one type: enough for an offset page in its
 * middle to send every request it can (by start hour, by period and type, the `_count` narrowing by point
 * id, the page; the page comes back empty, so the read again from the range open above is pinned too),
 * and for one near its end to be read from there (the sort reversed).
 */
function locateAnswer(req: ClusterRequest): unknown {
  if (req.path.endsWith("/_count")) return { count: 14_500 };
  const prefix = (req.body as { aggs?: { prefix?: { composite: { sources: Record<string, unknown>[] } } } } | undefined)?.aggs?.prefix;
  if (!prefix) return undefined;
  const total = { value: 30_000, relation: "eq" };
  // By period and type (sources s, e, t) or by start hour (source s alone).
  const key = prefix.composite.sources.some((s) => "t" in s) ? { s: T0, e: T0 + HOUR, t: "cpu" } : { s: T0 };
  return { hits: { total, hits: [] }, aggregations: { prefix: { buckets: [{ key, doc_count: 30_000 }] } } };
}

/** Records every request and answers as an empty cluster would (but for locate steps): enough for the readers to send theirs. */
class RecordingClient extends ClusterClient {
  readonly sent: ClusterRequest[] = [];

  override async request<T = unknown>(req: ClusterRequest, accept: readonly number[] = []): Promise<ClusterResponse<T>> {
    this.sent.push(req);
    // A bulk request: every item done, as a first write of each document is.
    if (req.path.endsWith("/_bulk")) {
      const actions = (req.bulkBody ?? "")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => ["index", "create", "delete"].includes(Object.keys(l)[0]!));
      const items = actions.map((a) => ({ [Object.keys(a)[0]!]: { status: 201, _seq_no: 7, _primary_term: 1 } }));
      return { status: 200, body: { errors: false, items } as T };
    }
    // Lifecycle engines without policies or managed partitions yet: "not found" where that is an answer.
    if (req.path.startsWith("/_plugins/_ism/") || req.path.includes("/_ilm/"))
      return accept.includes(404) ? { status: 404, body: {} as T } : { status: 200, body: {} as T };
    const body = req.path.endsWith("/_pit")
      ? { id: "PIT-ID" }
      : req.path.endsWith("/point_in_time")
        ? { pit_id: "PIT-ID" }
        : (locateAnswer(req) ?? { hits: { total: { value: 0, relation: "eq" }, hits: [] } });
    return { status: 200, body: body as T };
  }
}

async function requestsOf(facts: ClusterFacts): Promise<Record<string, unknown>> {
  const profile: ClusterProfile = deriveProfile(facts);
  const config = loadConfig({ RATESTORE_CLUSTER_URL: "http://127.0.0.1:9200", RATESTORE_INDEX_PREFIX: "ratestore" }).storage;
  const partitions = new Partitions(config.indexPrefix, config.partition);
  const client = new RecordingClient(config.cluster);
  // The mechanism as the service chooses it, in the one place it is chosen.
  const mechanism = new Lifecycle(client, partitions, config, profile, silent).build();
  const partition = partitions.indexFor(T0);
  const range = partitions.rangeOf(partition)!;
  // A partition first written five days into its period: where it cannot be dated by its data, its
  // policy's ages count from then.
  const written = { index: partition, range, createdAt: T0 + 5 * DAY };
  const search = new PointSearch(client, partitions.alias, profile, silent);
  const window = { begin: T0, end: T0 + DAY };
  await retrieve(new PointReader(search), { ...window, filters: { project_id: "p1" }, limit: 100 });
  const afterFirstPage = client.sent.length;
  await retrieve(new PointReader(search), { ...window, paginate: false });
  const afterWalk = client.sent.length;
  await collectTotal(new TotalAggregator(search).streamTotal({ ...window, groupby: ["project_id", "type"], limit: 100 }));
  const afterTotal = client.sent.length;
  for await (const _page of new PointReader(search).scan(window)) void _page;
  const afterScan = client.sent.length;
  await retrieve(new PointReader(search), { ...window, offset: 15_000, limit: 100 });
  const afterOffset = client.sent.length;
  await retrieve(new PointReader(search), { ...window, offset: 25_000, limit: 100 });
  const afterReads = client.sent.length;
  // A summary of a month whose days are clean but one: the rollups of the clean days and the raw points of the rest, in one search.
  const month = { begin: T0, end: Date.UTC(2024, 1, 1) };
  const days = new Map(Array.from({ length: 31 }, (_, i) => [T0 + i * DAY, { status: "clean" as const, build: `b${i}` }]));
  days.delete(T0 + 9 * DAY);
  const plan = planRollups({ ...month, metadataFilters: false, monthLevel: true, days, months: new Map() });
  const states = new RollupStates(client, "ratestore-rollups", { auto_expand_replicas: "0-1" });
  await states.windowRealtime(month.begin, month.end);
  // Whether the window's partitions hold whole and nano parts to sum (none: the limbs' sums alone).
  await new TotalQueries(client, partitions, undefined).source(async () => {})(month, undefined);
  await collectTotal(
    new TotalAggregator(search).streamTotal(
      { ...month, groupby: ["project_id", "type"], groupFilters: { project_id: "p1" }, limit: 100 },
      async (scope) => ({ query: rollupQuery(scope, plan).query, sums: sumAggregations({ legacy: false }) }),
    ),
  );
  const afterRollupTotal = client.sent.length;
  // A month whose days are all clean, their builds' limbs recorded: only those limbs are summed.
  const quiet = new Map(
    Array.from({ length: 31 }, (_, i) => [T0 + i * DAY, { status: "clean" as const, build: `b${i}`, limbs: ["price_e0", "qty_e6"] }]),
  );
  const quietPlan = planRollups({ ...month, metadataFilters: false, monthLevel: true, days: quiet, months: new Map() });
  await collectTotal(
    new TotalAggregator(search).streamTotal({ ...month, groupby: ["project_id"], limit: 100 }, async (scope) => {
      const planned = rollupQuery(scope, quietPlan);
      return { query: planned.query, sums: sumAggregations({ ...planned, legacy: false }) };
    }),
  );
  const afterQuietTotal = client.sent.length;
  // What a push marks on the rollup states before its first point, and after its last answer.
  let marker = 0;
  const dayMarks = new DayMarks(
    client,
    states,
    silent,
    () => `WRITE-${++marker}`,
    () => T0 + 30 * DAY,
  );
  const marks = dayMarks.forWrite();
  await marks.add([T0, T0 + DAY], T0 + 30 * DAY);
  await marks.end({ changed: true, settled: true });
  await dayMarks.flush();
  const afterMarks = client.sent.length;
  // The start on a cluster holding a partition made under another mechanism: it is put under this one.
  await mechanism.install([written]);
  const pit = pitRequests(profile);
  return {
    profile,
    retention: mechanism.name,
    template: {
      method: "PUT",
      path: `/_index_template/${partitions.alias}`,
      body: buildPointsTemplate(loadTemplateFile("points.template.json"), partitions, config, profile),
    },
    partition: { method: "PUT", path: `/${partition}`, body: { settings: partitionSettings(profile, mechanism, range) } },
    policy:
      mechanism instanceof IsmRetention
        ? {
            method: "PUT",
            path: `/_plugins/_ism/policies/${mechanism.policyOf(partition)}`,
            body: ismPolicyBody(mechanism.agesOf(written), partitions.alias),
          }
        : mechanism.name === "ilm"
          ? { method: "PUT", path: "/_ilm/policy/ratestore-retention", body: ilmPolicyBody(config.retentionHours * 3_600_000) }
          : null,
    pit: pit ? { open: pit.open(partitions.alias), close: pit.close("PIT-ID") } : null,
    retrieveFirstPage: client.sent.slice(0, afterFirstPage),
    retrieveWalk: client.sent.slice(afterFirstPage, afterWalk),
    totalGrouped: client.sent.slice(afterWalk, afterTotal),
    exportScan: client.sent.slice(afterTotal, afterScan),
    retrieveAtOffset: client.sent.slice(afterScan, afterOffset),
    retrieveNearGroupEnd: client.sent.slice(afterOffset, afterReads),
    totalFromRollups: client.sent.slice(afterReads, afterRollupTotal),
    totalFromLimbsRecorded: client.sent.slice(afterRollupTotal, afterQuietTotal),
    rollupMarks: client.sent.slice(afterQuietTotal, afterMarks),
    retentionInstall: client.sent.slice(afterMarks),
  };
}

const GOLDEN_DIR = resolve("test/fixtures/requests");

/**
 * A name for the flavours that send the same request, as Jaeger's `*.es8-9.json`: per distribution its
 * version range (`os2.19-3.6`, `es7.10-8.19`), `+ism` / `+ilm` where only flavours with that plugin are
 * in it; distributions joined by `_`.
 */
export function flavourRange(names: readonly string[]): string {
  const parsed = names.map((n) => {
    const m = /^(opensearch|elasticsearch)-(\d+)\.(\d+)\.\d+(?:-(\w+))?$/.exec(n);
    if (!m) throw new Error(`flavour name ${n} is not <distribution>-<version>[-<plugin>]`);
    return { dist: m[1] === "opensearch" ? "os" : "es", version: [Number(m[2]), Number(m[3])] as const, plugin: m[4] };
  });
  return ["es", "os"]
    .flatMap((dist) => {
      const of = parsed.filter((p) => p.dist === dist);
      if (of.length === 0) return [];
      const versions = [...new Set(of.map((p) => `${p.version[0]}.${p.version[1]}`))].sort((a, b) => {
        const [a1, a2] = a.split(".").map(Number);
        const [b1, b2] = b.split(".").map(Number);
        return a1! - b1! || a2! - b2!;
      });
      const plugins = new Set(of.map((p) => p.plugin));
      const plugin = plugins.size === 1 && !plugins.has(undefined) ? `+${[...plugins][0]}` : "";
      return [`${dist}${versions[0]}${versions.length > 1 ? `-${versions[versions.length - 1]}` : ""}${plugin}`];
    })
    .join("_");
}

/** The golden files: one per subject and group of flavours that send the same (`<subject>.<range>.json`). */
async function goldenFiles(): Promise<Map<string, { value: unknown; flavours: string[] }>> {
  const all = await Promise.all(
    Object.entries(FLAVOURS).map(
      async ([name, facts]) => [name, JSON.parse(JSON.stringify(await requestsOf(facts))) as Record<string, unknown>] as const,
    ),
  );
  const files = new Map<string, { value: unknown; flavours: string[] }>();
  for (const subject of Object.keys(all[0]![1])) {
    const groups = new Map<string, string[]>();
    for (const [name, requests] of all) {
      const key = JSON.stringify(requests[subject]);
      groups.set(key, [...(groups.get(key) ?? []), name]);
    }
    for (const [key, flavours] of groups) {
      const file = `${subject}.${flavourRange(flavours)}.json`;
      if (files.has(file))
        throw new Error(`two groups of flavours would both be ${file}: ${files.get(file)!.flavours.join(", ")} and ${flavours.join(", ")}`);
      files.set(file, { value: JSON.parse(key) as unknown, flavours });
    }
  }
  return files;
}

describe("golden requests per subject and flavour range (test/fixtures/requests)", () => {
  it("names flavour ranges as Jaeger does", () => {
    expect(flavourRange(["opensearch-2.19.6", "opensearch-3.6.0", "elasticsearch-8.19.21", "elasticsearch-7.10.2"])).to.equal(
      "es7.10-8.19_os2.19-3.6",
    );
    expect(flavourRange(["opensearch-3.6.0-ism"])).to.equal("os3.6+ism");
    expect(flavourRange(["opensearch-3.6.0", "opensearch-3.6.0-ism"])).to.equal("os3.6");
  });

  let files: Map<string, { value: unknown; flavours: string[] }>;
  before(async () => {
    files = await goldenFiles();
    if (process.env.UPDATE_GOLDEN === "1") {
      for (const f of readdirSync(GOLDEN_DIR)) if (f.endsWith(".json")) rmSync(resolve(GOLDEN_DIR, f));
      for (const [file, { value }] of files) writeFileSync(resolve(GOLDEN_DIR, file), JSON.stringify(value, null, 2) + "\n");
    }
  });

  it("every request is as pinned, one file per subject and flavour range", () => {
    for (const [file, { value, flavours }] of files) {
      const path = resolve(GOLDEN_DIR, file);
      expect(
        existsSync(path),
        `${file} (${flavours.join(", ")}) is missing: run UPDATE_GOLDEN=1 npm run test:unit after a deliberate change`,
      ).to.equal(true);
      expect(value, `${file} (${flavours.join(", ")})`).to.deep.equal(JSON.parse(readFileSync(path, "utf8")));
    }
  });

  it("no pinned file is left that no flavour sends", () => {
    const stale = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".json") && !files.has(f));
    expect(stale, "stale golden files: run UPDATE_GOLDEN=1 npm run test:unit").to.deep.equal([]);
  });
});

describe("what each engine flavour sends", () => {
  it("each flavour speaks its own dialect", async () => {
    const es8 = await requestsOf(FLAVOURS["elasticsearch-8.19.21"]!);
    expect(es8.pit).to.deep.equal({
      open: { method: "POST", path: "/ratestore-points/_pit", querystring: { keep_alive: "2m" } },
      close: { method: "DELETE", path: "/_pit", body: { id: "PIT-ID" } },
    });
    // The export walks inside a point-in-time, opened and read in each flavour's words.
    const walk = es8.exportScan as ClusterRequest[];
    expect(walk[0]!.path).to.equal("/ratestore-points/_pit");
    expect((walk[1]!.body as { pit: unknown }).pit).to.deep.equal({ id: "PIT-ID", keep_alive: "2m" });
    expect(walk[1]!.path).to.equal("/_search");
    const os = await requestsOf(FLAVOURS["opensearch-3.6.0"]!);
    expect((os.exportScan as ClusterRequest[])[0]!.path).to.equal("/ratestore-points/_search/point_in_time");
    const es710 = await requestsOf(FLAVOURS["elasticsearch-7.10.2"]!);
    expect(es710.pit).to.equal(null);
    expect((es710.exportScan as ClusterRequest[]).every((r) => r.path === "/ratestore-points/_search")).to.equal(true);
    const ilm = await requestsOf(FLAVOURS["elasticsearch-8.19.21-ilm"]!);
    expect((ilm.partition as { body: { settings: Record<string, unknown> } }).body.settings).to.deep.equal({
      "index.lifecycle.name": "ratestore-retention",
      "index.lifecycle.origination_date": T0 + 31 * DAY,
    });
    const ism = await requestsOf(FLAVOURS["opensearch-3.6.0-ism"]!);
    expect((ism.partition as { body: { settings: Record<string, unknown> } }).body.settings).to.deep.equal({
      "index.creation_date": T0 + 31 * DAY,
    });
    expect(ism.retention).to.equal("ism");
    expect((ism.policy as { path: string }).path).to.equal("/_plugins/_ism/policies/ratestore-retention");
    // OpenSearch 2 cannot date a partition: its own policy counts from its real creation to its end + retention.
    const ism2 = await requestsOf(FLAVOURS["opensearch-2.19.6-ism"]!);
    expect(ism2.retention).to.equal("ism");
    expect((ism2.partition as { body: { settings: Record<string, unknown> } }).body.settings).to.deep.equal({});
    const policy2 = ism2.policy as {
      path: string;
      body: { policy: { states: { transitions: { conditions: { min_index_age: string } }[] }[] } };
    };
    expect(policy2.path).to.equal("/_plugins/_ism/policies/ratestore-retention-2024.01");
    expect(policy2.body.policy.states.map((s) => s.transitions[0]?.conditions.min_index_age)).to.deep.equal([
      "3024h",
      "10887000s",
      undefined,
    ]); // 26 days + 2,400 h; then the 600 s grace
  });
});

describe("cluster profile", () => {
  it("is derived from what the cluster says, per engine", () => {
    const pick = (f: ClusterFacts) => {
      const p = deriveProfile(f);
      return [p.pit, p.storageOrder, p.hourCounts, p.docValueQueries, p.metadataMapping, p.lifecycle, p.backdating].join(" ");
    };
    expect(pick(FLAVOURS["opensearch-3.6.0"]!)).to.equal("opensearch shard_doc points_index keyword flat_object none creation_date");
    expect(pick({ ...FLAVOURS["opensearch-3.6.0"]!, version: "3.2.0" })).to.equal(
      "opensearch none points_index keyword flat_object none creation_date",
    );
    expect(pick(FLAVOURS["opensearch-2.19.6-ism"]!)).to.equal("opensearch none doc_values keyword flat_object ism none");
    expect(pick({ ...FLAVOURS["opensearch-2.19.6"]!, version: "2.3.0" })).to.equal("none none doc_values none none none none");
    expect(pick({ ...FLAVOURS["opensearch-2.19.6"]!, version: "2.7.0" })).to.equal("opensearch none doc_values none flat_object none none");
    expect(pick(FLAVOURS["elasticsearch-8.19.21"]!)).to.equal("elasticsearch shard_doc doc_values keyword flattened none none");
    expect(pick(FLAVOURS["elasticsearch-8.19.21-ilm"]!)).to.equal(
      "elasticsearch shard_doc doc_values keyword flattened ilm origination_date",
    );
    expect(pick(FLAVOURS["elasticsearch-7.17.29"]!)).to.equal("elasticsearch shard_doc doc_values none none none none");
    expect(pick({ ...FLAVOURS["elasticsearch-7.17.29"]!, version: "7.11.2" })).to.equal(
      "elasticsearch none doc_values none none none none",
    );
    expect(pick(FLAVOURS["elasticsearch-7.10.2"]!)).to.equal("none none doc_values none none none none");
  });

  it("takes a configured override field by field, and says which fields it overrode", () => {
    const p = deriveProfile(FLAVOURS["elasticsearch-8.19.21"]!, { pit: "none" });
    expect(p.pit).to.equal("none");
    expect(p.distribution).to.equal("elasticsearch");
    expect(p.overridden).to.deep.equal(["pit"]);
  });

  it("rejects a malformed override before the start, naming the variable and the field", () => {
    const backend = (profile: string) =>
      new SearchEngineBackend(loadConfig({ RATESTORE_CLUSTER_PROFILE: profile }).storage, createLogger("error"));
    expect(() => backend('{"pit":"sometimes"}')).to.throw(ConfigError, /RATESTORE_CLUSTER_PROFILE\.pit/);
    expect(() => backend('{"pits":"none"}')).to.throw(ConfigError, /RATESTORE_CLUSTER_PROFILE: .*pits/);
    expect(() => loadConfig({ RATESTORE_CLUSTER_PROFILE: "{not json" })).to.throw(/RATESTORE_CLUSTER_PROFILE: not valid JSON/);
    expect(() => loadConfig({ RATESTORE_CLUSTER_PROFILE: '["pit"]' })).to.throw(/RATESTORE_CLUSTER_PROFILE: a JSON object/);
    expect(loadConfig({ RATESTORE_CLUSTER_PROFILE: '{"lifecycle":"ilm"}' }).storage.cluster.profile).to.deep.equal({ lifecycle: "ilm" });
    expect(parseProfileOverride({ lifecycle: "ilm" })).to.deep.equal({ lifecycle: "ilm" });
  });

  it("reads the cluster settings under their older OPENSEARCH_* names, and refuses two names set apart", () => {
    const older = loadConfig({ OPENSEARCH_URL: "http://a:9200", OPENSEARCH_USERNAME: "u", RATESTORE_OS_PORT: "9300" }).storage.cluster;
    expect(older.urls).to.deep.equal(["http://a:9200"]);
    expect(older.username).to.equal("u");
    expect(loadConfig({ RATESTORE_OS_PORT: "9300" }).storage.cluster.urls).to.deep.equal(["http://127.0.0.1:9300"]);
    expect(loadConfig({ RATESTORE_CLUSTER_URL: "http://a:9200", OPENSEARCH_URL: "http://a:9200" }).storage.cluster.urls).to.deep.equal([
      "http://a:9200",
    ]);
    expect(() => loadConfig({ RATESTORE_CLUSTER_PASSWORD: "one-secret", OPENSEARCH_PASSWORD: "another" }))
      .to.throw(ConfigError, /RATESTORE_CLUSTER_PASSWORD and its older name OPENSEARCH_PASSWORD are both set, to different values/)
      .and.satisfy((e: Error) => !e.message.includes("secret") && !e.message.includes("another"));
    expect(() => loadConfig({ OPENSEARCH_URL: "ftp://b" })).to.throw(/RATESTORE_CLUSTER_URL \(set as OPENSEARCH_URL\)/);
  });

  it("takes several cluster URLs, and refuses a start-up wait that is not a number", () => {
    expect(loadConfig({ RATESTORE_CLUSTER_URL: "http://a:9200, http://b:9200" }).storage.cluster.urls).to.deep.equal([
      "http://a:9200",
      "http://b:9200",
    ]);
    expect(() => loadConfig({ RATESTORE_CLUSTER_URL: "http://a:9200,ftp://b" })).to.throw(/RATESTORE_CLUSTER_URL/);
    expect(() => loadConfig({ RATESTORE_STARTUP_WAIT_SECONDS: "soon" })).to.throw(/RATESTORE_STARTUP_WAIT_SECONDS/);
    expect(loadConfig({ RATESTORE_STARTUP_WAIT_SECONDS: "30" }).startupWaitSeconds).to.equal(30);
  });
});
