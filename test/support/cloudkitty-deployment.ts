import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../../src/backoff.js";
import type { Nanos } from "../../src/storage/decimal.js";
import { dec } from "./data.js";
import { freePort, startService, type ChildService } from "./processes.js";
import { venvTool } from "./python.js";
import { fileURLToPath } from "node:url";

/**
 * CloudKitty 25.0.0 deployed as an operator deploys it, for the pipeline test and the side-by-side
 * comparison: a small exporter → Prometheus (Debian's 2.42) → cloudkitty-processor (Prometheus collector
 * and fetcher, hashmap rating, sqlite, noauth) → a storage backend, and CloudKitty's own API on the same
 * configuration, with python-cloudkittyclient. Each workaround of a CloudKitty bug is named where it is.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HELPERS = join(ROOT, "test/python/cloudkitty_pipeline");
/** The rating period, in seconds: the shortest that leaves Prometheus (scraping every second) several samples a period. */
export const PERIOD = 10;
/** The hashmap prices configured: per instance by flavor, per GiB of volume. */
export const PRICES = { "m1.small": "0.5", "m1.large": "2", gib: "0.01" };
export type Prices = typeof PRICES;

/** What the exporter serves (test/python/cloudkitty_pipeline/exporter.py). */
export interface Cloud {
  instances: [project: string, id: string, flavor: "m1.small" | "m1.large"][];
  volumes: [project: string, id: string, type: string, size: string][];
}
export interface Amounts {
  qty: Nanos;
  rate: Nanos;
}

/** What one period rates to per project, from the exporter's cloud and the prices. */
export function expectedPerPeriod(cloud: Cloud, prices: Prices): Map<string, Amounts> {
  const out = new Map<string, Amounts>();
  const add = (project: string, qty: Nanos, rate: Nanos) => {
    const a = out.get(project) ?? { qty: 0n, rate: 0n };
    out.set(project, { qty: a.qty + qty, rate: a.rate + rate });
  };
  for (const [project, , flavor] of cloud.instances) add(project, dec(1), dec(prices[flavor]));
  for (const [project, , , size] of cloud.volumes) add(project, dec(size), (dec(size) * dec(prices.gib)) / dec(1));
  return out;
}

/** JSON with every number kept as its literal text, so that amounts are compared exactly. */
export function exactJson<T>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,\]}])/g, '$1"$2"')) as T;
}

/** Seconds since the epoch as CloudKitty's API takes them: ISO 8601, UTC, no zone. */
export const iso = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "");

/** Polls `probe` until it gives a value. */
export async function until<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutS} s waiting for ${what}`);
    await sleep(500);
  }
}

/** The exporter and the Prometheus that scrapes it. */
export interface MonitoredCloud {
  readonly cloud: Cloud;
  /** Prometheus's API, as CloudKitty is given it (ending in /api/v1). */
  readonly prometheus: string;
  stop(): Promise<void>;
}

export async function startMonitoredCloud(python: string, dir: string): Promise<MonitoredCloud> {
  const binary = execFileSync("bash", ["scripts/prometheus-path.sh"], { cwd: ROOT, encoding: "utf8" }).trim();
  const [exporterPort, promPort] = [await freePort(), await freePort()];
  const cloud = JSON.parse(execFileSync(python, [join(HELPERS, "exporter.py"), "--json"], { encoding: "utf8" })) as Cloud;
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: ck\n    honor_labels: true\n    static_configs: [{targets: ['127.0.0.1:${exporterPort}']}]\n`,
  );
  const services: ChildService[] = [];
  const stop = async () => {
    for (const s of services.reverse()) await s.stop();
  };
  try {
    const exporter = [join(HELPERS, "exporter.py"), String(exporterPort)];
    services.push(await startService("exporter", python, exporter, { logFile: join(dir, "exporter.log"), ready: /^ready$/m }));
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    const args = [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ];
    const scraped = async () => {
      const res = (await (await fetch(`${api}/query?query=count(ck_instance_up)`)).json()) as {
        data: { result: { value: [number, string] }[] };
      };
      return res.data.result[0]?.value[1] === String(cloud.instances.length);
    };
    services.push(await startService("prometheus", binary, args, { logFile: join(dir, "prometheus.log"), ready: scraped }));
    return { cloud, prometheus: api, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Where a deployment stores its ratings: ratestore through its driver, or CloudKitty's own OpenSearch backend. */
export type CloudKittyStorage =
  | { readonly backend: "ratestore"; readonly url: string; readonly apiKey: string; readonly retries: number }
  | { readonly backend: "opensearch"; readonly host: string; readonly index: string };

function storageSection(storage: CloudKittyStorage): string[] {
  if (storage.backend === "ratestore")
    return ["[storage_ratestore]", `url = ${storage.url}`, `api_key = ${storage.apiKey}`, "timeout = 10", `retries = ${storage.retries}`];
  return ["[storage_opensearch]", `host = ${storage.host}`, `index_name = ${storage.index}`];
}

/** One CloudKitty: its configuration, database, API and (once started) processor. */
export interface CloudKittyDeployment {
  /** CloudKitty's own API. */
  readonly api: string;
  /** CloudKitty's log (its API and processor write there). */
  readonly logFile: string;
  /** python-cloudkittyclient against this deployment's API. */
  client(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The client's output; throws when it fails. */
  clientValue(...args: string[]): Promise<string>;
  /** Processes every scope from `first` (a period start) on, as a processor started now. */
  startProcessing(first: number, scopes: readonly string[]): Promise<void>;
  /** Corrects the price of a flavor from `from` on, as CloudKitty 25 versions its rules. */
  reprice(flavor: Cloud["instances"][number][2], cost: string, from: number): Promise<void>;
  /** Schedules the reprocessing of [start, end] for the scopes and waits until it has finished. */
  reprocess(scopes: readonly string[], start: number, end: number, timeoutS: number): Promise<void>;
  stop(): Promise<void>;
}

export async function deployCloudKitty(
  python: string,
  dir: string,
  prometheus: string,
  storage: CloudKittyStorage,
): Promise<CloudKittyDeployment> {
  mkdirSync(join(dir, "locks"), { recursive: true });
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const logFile = join(dir, "cloudkitty.log");
  writeFileSync(
    join(dir, "metrics.yml"),
    [
      "metrics:",
      "  ck_instance_up: {unit: instance, alt_name: instance, groupby: [id, project_id], metadata: [flavor], extra_args: {aggregation_method: max}}",
      "  ck_volume_gb: {unit: GiB, alt_name: volume.size, groupby: [id, project_id], metadata: [volume_type], extra_args: {aggregation_method: max}}",
      "",
    ].join("\n"),
  );
  // Workaround: CloudKitty 25.0.0's wheel has no api_paste.ini; this is its noauth pipeline.
  writeFileSync(
    join(dir, "api_paste.ini"),
    [
      "[pipeline:cloudkitty+noauth]",
      "pipeline = cors http_proxy_to_wsgi request_id ck_api",
      "[app:ck_api]",
      "paste.app_factory = cloudkitty.api.app:app_factory",
      "[filter:request_id]",
      "paste.filter_factory = oslo_middleware:RequestId.factory",
      "[filter:cors]",
      "paste.filter_factory = oslo_middleware.cors:filter_factory",
      "oslo_config_project = cloudkitty",
      "[filter:http_proxy_to_wsgi]",
      "paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory",
      "oslo_config_project = cloudkitty",
      "",
    ].join("\n"),
  );
  const conf = join(dir, "cloudkitty.conf");
  const db = join(dir, "cloudkitty.db");
  writeFileSync(
    conf,
    [
      "[DEFAULT]",
      `log_file = ${logFile}`,
      "transport_url = fake://",
      "auth_strategy = noauth",
      `api_paste_config = ${join(dir, "api_paste.ini")}`,
      "[database]",
      // The API and the processor share the sqlite file (in WAL mode, see seed_states.py).
      `connection = sqlite:///${db}?timeout=30`,
      "[collect]",
      "collector = prometheus",
      `period = ${PERIOD}`,
      // 0 would process a period as it begins, before Prometheus has its samples.
      "wait_periods = 1",
      `metrics_conf = ${join(dir, "metrics.yml")}`,
      "scope_key = project_id",
      // Workaround: CloudKitty's Prometheus client appends /query to this URL, so it must end in /api/v1.
      "[collector_prometheus]",
      `prometheus_url = ${prometheus}`,
      "[fetcher]",
      "backend = prometheus",
      "[fetcher_prometheus]",
      `prometheus_url = ${prometheus}`,
      "metric = ck_instance_up",
      "scope_attribute = project_id",
      "[orchestrator]",
      `coordination_url = file://${join(dir, "locks")}`,
      "max_workers = 1",
      "max_workers_reprocessing = 1",
      "[storage]",
      `backend = ${storage.backend}`,
      "version = 2",
      ...storageSection(storage),
      // Workaround: with noauth, hashmap writes read [keystone_authtoken] (see ck_api.py).
      "[keystone_authtoken]",
      "auth_type = none",
      "",
    ].join("\n"),
  );
  const env = { ...process.env, TZ: "UTC" };
  const services: ChildService[] = [];
  const stop = async () => {
    for (const s of services.reverse()) await s.stop();
  };
  const client = (...args: string[]) =>
    venvTool(python, "cloudkitty", ["--os-auth-type", "cloudkitty-noauth", "--os-endpoint", api, ...args], { TZ: "UTC" });
  const clientValue = async (...args: string[]) => {
    const res = await client(...args);
    if (res.code !== 0) throw new Error(`cloudkitty ${args.join(" ")}: ${res.stderr.slice(-2000)}`);
    return res.stdout.trim();
  };
  const mappings: Record<string, string> = {};
  let flavorField = "";
  try {
    // Workaround: the OpenSearch backend's init puts its mapping to an index it never creates (a 404).
    if (storage.backend === "opensearch") {
      const res = await fetch(`${storage.host}/${storage.index}`, { method: "PUT" });
      if (!res.ok) throw new Error(`creating ${storage.index}: ${res.status} ${await res.text()}`);
    }
    // Workaround: `cloudkitty-dbsync upgrade` fails on sqlite in 25.0.0 (see dbsync.py).
    for (const [tool, args] of [
      ["python", [join(HELPERS, "dbsync.py"), "--config-file", conf, "upgrade"]],
      ["cloudkitty-storage-init", ["--config-file", conf]],
    ] as const) {
      const res = await venvTool(python, tool, args, { TZ: "UTC" });
      if (res.code !== 0) throw new Error(`${tool} failed: ${res.stderr.slice(-3000)}`);
    }
    const apiArgs = [join(HELPERS, "ck_api.py"), String(apiPort), "--config-file", conf];
    services.push(await startService("CloudKitty's API", python, apiArgs, { logFile: join(dir, "ck-api.log"), env, ready: /^ready$/m }));
    // The rating an operator configures, with the client.
    await clientValue("module", "enable", "hashmap");
    const instance = await clientValue("hashmap", "service", "create", "instance", "-f", "value", "-c", "Service ID");
    flavorField = await clientValue("hashmap", "field", "create", instance, "flavor", "-f", "value", "-c", "Field ID");
    for (const value of ["m1.small", "m1.large"] as const)
      mappings[value] = await clientValue(
        ...["hashmap", "mapping", "create", "--field-id", flavorField, "--value", value, "-t", "flat", PRICES[value]],
        ...["-f", "value", "-c", "Mapping ID"],
      );
    const volume = await clientValue("hashmap", "service", "create", "volume.size", "-f", "value", "-c", "Service ID");
    await clientValue("hashmap", "mapping", "create", "--service-id", volume, "-t", "flat", PRICES.gib, "-f", "value", "-c", "Mapping ID");
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    api,
    logFile,
    client,
    clientValue,
    async startProcessing(first, scopes) {
      // Without a seeded state a new scope would be processed from the start of the month.
      execFileSync(python, [join(HELPERS, "seed_states.py"), db, iso(first - PERIOD).replace("T", " "), ...scopes]);
      const processor = join(python, "../cloudkitty-processor");
      services.push(
        await startService("cloudkitty-processor", processor, ["--config-file", conf], { logFile: join(dir, "processor.log"), env }),
      );
    },
    async reprice(flavor, cost, from) {
      // The running rule is deleted and its successor starts in the past (`force`, which the client lacks).
      await clientValue("hashmap", "mapping", "delete", mappings[flavor]!);
      const res = await fetch(`${api}/v1/rating/module_config/hashmap/mappings?force=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ field_id: flavorField, value: flavor, type: "flat", cost, start: iso(from) }),
      });
      if (res.status !== 201) throw new Error(`creating the ${flavor} mapping: ${res.status} ${await res.text()}`);
      mappings[flavor] = ((await res.json()) as { mapping_id: string }).mapping_id;
    },
    async reprocess(scopes, start, end, timeoutS) {
      const window = ["--start-reprocess-time", `${iso(start)}Z`, "--end-reprocess-time", `${iso(end)}Z`];
      await clientValue(
        "tasks",
        "reprocessing",
        "create",
        ...scopes.flatMap((p) => ["--scope-id", p]),
        ...window,
        "--reason",
        "price change",
      );
      type Schedule = { current_reprocess_time: string | null; end_reprocess_time: string };
      const finished = (r: Schedule) =>
        r.current_reprocess_time !== null && Date.parse(r.current_reprocess_time) === Date.parse(r.end_reprocess_time);
      await until("the reprocessing to finish", timeoutS, async () => {
        const res = (await (await fetch(`${api}/v2/task/reprocesses?limit=100`)).json()) as { results: Schedule[] };
        return res.results.length === scopes.length && res.results.every(finished) ? true : undefined;
      });
    },
    stop,
  };
}
