import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatNanos, type Nanos } from "../../../src/storage/decimal.js";
import { ADMIN_KEY, startApi, type TestApi } from "../../support/api.js";
import { dec } from "../../support/data.js";
import { onDefaultEngine } from "../../support/engines.js";
import { freePort, startService, type ChildService } from "../../support/processes.js";
import { venvPython, venvTool } from "../../support/python.js";

/**
 * CloudKitty 25.0.0's whole pipeline on ratestore, as an operator deploys it: a small exporter → Prometheus
 * (Debian's 2.42) → cloudkitty-processor (Prometheus collector and fetcher, hashmap rating, sqlite, noauth)
 * → the ratestore driver → ratestore; then CloudKitty's own API (v1 and v2) and python-cloudkittyclient on
 * the same configuration. Periods are 10 s, the shortest that leaves Prometheus (scraping every second)
 * several samples per period; CloudKitty processes a period once the next one has passed (wait_periods 1).
 */

const ROOT = resolve(__dirname, "../../..");
const HELPERS = join(ROOT, "test/python/cloudkitty_pipeline");
const REQUIREMENTS = "integrations/cloudkitty/test-requirements.txt";
const PERIOD = 10;
/** The hashmap prices the suite configures: per instance by flavor, per GiB of volume. */
const PRICES = { "m1.small": "0.5", "m1.large": "2", gib: "0.01" };

interface Cloud {
  instances: [project: string, id: string, flavor: keyof typeof PRICES][];
  volumes: [project: string, id: string, type: string, size: string][];
}
type Amounts = { qty: Nanos; rate: Nanos };

/** What one period rates to per project, from the exporter's cloud and the prices. */
function expectedPerPeriod(cloud: Cloud, prices: typeof PRICES): Map<string, Amounts> {
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
function exactJson<T>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,\]}])/g, '$1"$2"')) as T;
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutS: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutS} s waiting for ${what}`);
    await sleep(500);
  }
}

onDefaultEngine(
  "CloudKitty pipeline: Prometheus → cloudkitty-processor → driver → ratestore, then CloudKitty's API and client",
  function () {
    this.timeout(900_000);
    let api: TestApi;
    let python: string;
    let dir: string;
    let conf: string;
    let cloud: Cloud;
    let perPeriod: Map<string, Amounts>;
    const services: ChildService[] = [];
    let processor: ChildService;
    let ckUrl: string;
    /** The start of the first period CloudKitty processes. */
    let first: number;

    const ck = (...args: string[]) =>
      venvTool(python, "cloudkitty", ["--os-auth-type", "cloudkitty-noauth", "--os-endpoint", ckUrl, ...args], { TZ: "UTC" });
    const ckValue = async (...args: string[]) => {
      const res = await ck(...args);
      expect(res.code, res.stderr).to.equal(0);
      return res.stdout.trim();
    };

    /** ratestore's own summary by period and project over [begin, end): period start → project → amounts. */
    async function stored(begin: number, end: number): Promise<Map<number, Map<string, Amounts>>> {
      const res = await api.call(`/v2/summary?begin=${iso(begin)}Z&end=${iso(end)}Z&groupby=time&groupby=project_id&limit=10000`);
      expect(res.status).to.equal(200);
      const body = exactJson<{ columns: string[]; results: string[][] }>(await res.text());
      const col = (name: string) => body.columns.indexOf(name);
      const out = new Map<number, Map<string, Amounts>>();
      for (const row of body.results) {
        const at = Date.parse(row[col("begin")]!) / 1000;
        const period = out.get(at) ?? new Map<string, Amounts>();
        period.set(row[col("project_id")]!, { qty: dec(row[col("qty")]!), rate: dec(row[col("rate")]!) });
        out.set(at, period);
      }
      return out;
    }

    /** The number of points ratestore holds in [begin, end). */
    async function pointCount(begin: number, end: number): Promise<number> {
      const res = await api.call(`/v2/dataframes?begin=${iso(begin)}Z&end=${iso(end)}Z&limit=1`);
      return ((await res.json()) as { total: number }).total;
    }

    /** Waits until ratestore holds `periods` periods from `first` for every project, and returns them. */
    const processed = (periods: number, timeoutS: number) =>
      until(`${periods} processed periods`, timeoutS, async () => {
        const got = await stored(first, first + periods * PERIOD);
        const complete = got.size === periods && [...got.values()].every((p) => p.size === perPeriod.size);
        return complete ? got : undefined;
      });

    function expectExact(got: Map<number, Map<string, Amounts>>, want: Map<string, Amounts>, periods: number) {
      expect([...got.keys()].sort()).to.deep.equal(Array.from({ length: periods }, (_, i) => first + i * PERIOD));
      for (const [at, projects] of got)
        for (const [project, amounts] of want) expect(projects.get(project), `${iso(at)} ${project}`).to.deep.equal(amounts);
    }

    before(async function () {
      python = venvPython(REQUIREMENTS);
      const prometheus = execFileSync("bash", ["scripts/prometheus-path.sh"], { cwd: ROOT, encoding: "utf8" }).trim();
      api = await startApi();
      dir = mkdtempSync(join(tmpdir(), "ck-pipeline-"));
      const [exporterPort, promPort, ckPort] = [await freePort(), await freePort(), await freePort()];
      ckUrl = `http://127.0.0.1:${ckPort}`;
      cloud = JSON.parse(execFileSync(python, [join(HELPERS, "exporter.py"), "--json"], { encoding: "utf8" })) as Cloud;
      perPeriod = expectedPerPeriod(cloud, PRICES);

      writeFileSync(
        join(dir, "prometheus.yml"),
        `global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: ck\n    honor_labels: true\n    static_configs: [{targets: ['127.0.0.1:${exporterPort}']}]\n`,
      );
      writeFileSync(
        join(dir, "metrics.yml"),
        [
          "metrics:",
          "  ck_instance_up: {unit: instance, alt_name: instance, groupby: [id, project_id], metadata: [flavor], extra_args: {aggregation_method: max}}",
          "  ck_volume_gb: {unit: GiB, alt_name: volume.size, groupby: [id, project_id], metadata: [volume_type], extra_args: {aggregation_method: max}}",
          "",
        ].join("\n"),
      );
      // CloudKitty 25.0.0's wheel has no api_paste.ini: this is its noauth pipeline.
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
      mkdirSync(join(dir, "locks"));
      conf = join(dir, "cloudkitty.conf");
      writeFileSync(
        conf,
        [
          "[DEFAULT]",
          `log_file = ${join(dir, "cloudkitty.log")}`,
          "transport_url = fake://",
          "auth_strategy = noauth",
          `api_paste_config = ${join(dir, "api_paste.ini")}`,
          "[database]",
          `connection = sqlite:///${join(dir, "cloudkitty.db")}`,
          "[collect]",
          "collector = prometheus",
          `period = ${PERIOD}`,
          // 0 would process a period as it begins, before Prometheus has its samples.
          "wait_periods = 1",
          `metrics_conf = ${join(dir, "metrics.yml")}`,
          "scope_key = project_id",
          // Workaround: CloudKitty's Prometheus client appends /query to this URL, so it must end in /api/v1.
          "[collector_prometheus]",
          `prometheus_url = http://127.0.0.1:${promPort}/api/v1`,
          "[fetcher]",
          "backend = prometheus",
          "[fetcher_prometheus]",
          `prometheus_url = http://127.0.0.1:${promPort}/api/v1`,
          "metric = ck_instance_up",
          "scope_attribute = project_id",
          "[orchestrator]",
          `coordination_url = file://${join(dir, "locks")}`,
          "max_workers = 1",
          "max_workers_reprocessing = 1",
          "[storage]",
          "backend = ratestore",
          "version = 2",
          "[storage_ratestore]",
          `url = ${api.url}`,
          `api_key = ${ADMIN_KEY}`,
          "timeout = 10",
          // Few retries, so that the outage test sees a push fail within the outage.
          "retries = 1",
          // Workaround: with noauth, hashmap writes read [keystone_authtoken] (see ck_api.py).
          "[keystone_authtoken]",
          "auth_type = none",
          "",
        ].join("\n"),
      );
      const env = { ...process.env, TZ: "UTC" };
      const log = (name: string) => join(dir, `${name}.log`);

      services.push(
        await startService("exporter", python, [join(HELPERS, "exporter.py"), String(exporterPort)], {
          logFile: log("exporter"),
          ready: /ready/,
        }),
      );
      const promApi = `http://127.0.0.1:${promPort}/api/v1`;
      services.push(
        await startService(
          "prometheus",
          prometheus,
          [
            `--config.file=${join(dir, "prometheus.yml")}`,
            `--storage.tsdb.path=${join(dir, "tsdb")}`,
            `--web.listen-address=127.0.0.1:${promPort}`,
          ],
          {
            logFile: log("prometheus"),
            ready: async () => {
              const res = (await (await fetch(`${promApi}/query?query=count(ck_instance_up)`)).json()) as {
                data: { result: { value: [number, string] }[] };
              };
              return res.data.result[0]?.value[1] === String(cloud.instances.length);
            },
          },
        ),
      );
      // Workaround: `cloudkitty-dbsync upgrade` fails on sqlite in 25.0.0 (see dbsync.py).
      const sync = await venvTool(python, "python", [join(HELPERS, "dbsync.py"), "--config-file", conf, "upgrade"], { TZ: "UTC" });
      expect(sync.code, sync.stderr.slice(-3000)).to.equal(0);
      const init = await venvTool(python, "cloudkitty-storage-init", ["--config-file", conf], { TZ: "UTC" });
      expect(init.code, init.stderr.slice(-3000)).to.equal(0);
      services.push(
        await startService("CloudKitty's API", python, [join(HELPERS, "ck_api.py"), String(ckPort), "--config-file", conf], {
          logFile: log("ck-api"),
          env,
          ready: /ready/,
        }),
      );
      // The rating an operator configures, with the client.
      await ckValue("module", "enable", "hashmap");
      const instance = await ckValue("hashmap", "service", "create", "instance", "-f", "value", "-c", "Service ID");
      const flavor = await ckValue("hashmap", "field", "create", instance, "flavor", "-f", "value", "-c", "Field ID");
      for (const value of ["m1.small", "m1.large"] as const)
        await ckValue(
          "hashmap",
          "mapping",
          "create",
          "--field-id",
          flavor,
          "--value",
          value,
          "-t",
          "flat",
          PRICES[value],
          "-f",
          "value",
          "-c",
          "Mapping ID",
        );
      const volume = await ckValue("hashmap", "service", "create", "volume.size", "-f", "value", "-c", "Service ID");
      await ckValue("hashmap", "mapping", "create", "--service-id", volume, "-t", "flat", PRICES.gib, "-f", "value", "-c", "Mapping ID");

      // The first period starts after Prometheus has samples; without a seeded state a new scope would be
      // processed from the start of the month.
      first = Math.ceil(Date.now() / 1000 / PERIOD) * PERIOD;
      const projects = [...perPeriod.keys()];
      execFileSync(python, [
        join(HELPERS, "seed_states.py"),
        join(dir, "cloudkitty.db"),
        iso(first - PERIOD).replace("T", " "),
        ...projects,
      ]);
      processor = await startService("cloudkitty-processor", join(python, "../cloudkitty-processor"), ["--config-file", conf], {
        logFile: log("processor"),
        env,
      });
      services.push(processor);
    });

    after(async () => {
      for (const s of services.reverse()) await s.stop();
      await api?.close();
    });

    it("rates every processed period exactly: the points of each period and project, to the last digit", async () => {
      const got = await processed(4, 180);
      expectExact(got, perPeriod, 4);
      expect(await pointCount(first, first + 4 * PERIOD)).to.equal(4 * (cloud.instances.length + cloud.volumes.length));
      const total = [...perPeriod.values()].reduce((a, b) => ({ qty: a.qty + b.qty, rate: a.rate + b.rate }));
      console.log(
        `      4 periods of ${PERIOD} s from ${iso(first)}Z, each rated ${formatNanos(total.rate)} (qty ${formatNanos(total.qty)}) over ${perPeriod.size} projects`,
      );
    });
  },
);
