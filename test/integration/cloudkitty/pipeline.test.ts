import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
    let smallMapping = "";
    let flavorField = "";

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

    /**
     * Waits until ratestore holds `periods` periods from `first` with every project and at least their
     * number of points (a push becomes visible point by point, not at once), and returns them.
     */
    const processed = (periods: number, timeoutS: number) =>
      until(`${periods} processed periods`, timeoutS, async () => {
        const got = await stored(first, first + periods * PERIOD);
        const present = got.size === periods && [...got.values()].every((p) => p.size === perPeriod.size);
        const points = present ? await pointCount(first, first + periods * PERIOD) : 0;
        return points >= periods * pointsPerPeriod() ? got : undefined;
      });
    const pointsPerPeriod = () => cloud.instances.length + cloud.volumes.length;

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
          // Workaround: the API and the processor share the sqlite file; sqlite's 5 s lock wait is too short under load.
          `connection = sqlite:///${join(dir, "cloudkitty.db")}?timeout=60`,
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
          ready: /^ready$/m,
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
          ready: /^ready$/m,
        }),
      );
      // The rating an operator configures, with the client.
      await ckValue("module", "enable", "hashmap");
      const instance = await ckValue("hashmap", "service", "create", "instance", "-f", "value", "-c", "Service ID");
      const flavor = await ckValue("hashmap", "field", "create", instance, "flavor", "-f", "value", "-c", "Field ID");
      for (const value of ["m1.small", "m1.large"] as const) {
        const id = await ckValue(
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
        if (value === "m1.small") smallMapping = id;
        flavorField = flavor;
      }
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

    afterEach(function () {
      // CloudKitty's own log says what it did when a test of it fails.
      if (this.currentTest?.state === "failed")
        console.log(readFileSync(join(dir, "cloudkitty.log"), "utf8").split("\n").slice(-60).join("\n"));
    });

    after(async () => {
      for (const s of services.reverse()) await s.stop();
      await api?.close();
    });

    it("rates every processed period exactly: the points of each period and project, to the last digit", async () => {
      const got = await processed(4, 180);
      expectExact(got, perPeriod, 4);
      expect(await pointCount(first, first + 4 * PERIOD)).to.equal(4 * pointsPerPeriod());
      const total = [...perPeriod.values()].reduce((a, b) => ({ qty: a.qty + b.qty, rate: a.rate + b.rate }));
      console.log(
        `      4 periods of ${PERIOD} s from ${iso(first)}Z, each rated ${formatNanos(total.rate)} (qty ${formatNanos(total.qty)}) over ${perPeriod.size} projects`,
      );
    });

    it("CloudKitty's API v1 and v2 and python-cloudkittyclient answer the same exact totals", async () => {
      const periods = 4;
      const [b, e] = [iso(first), iso(first + periods * PERIOD)];
      const want = new Map([...perPeriod].map(([p, a]) => [p, a.rate * BigInt(periods)]));
      const all = [...want.values()].reduce((x, y) => x + y);
      const get = async (path: string) => {
        const res = await fetch(ckUrl + path);
        expect(res.status, path).to.equal(200);
        return res.text();
      };
      type Table = { columns: string[]; results: string[][] };
      const v2 = exactJson<Table>(await get(`/v2/summary?begin=${b}&end=${e}`));
      expect(dec(v2.results[0]![v2.columns.indexOf("rate")]!)).to.equal(all);
      const v2p = exactJson<Table>(await get(`/v2/summary?begin=${b}&end=${e}&groupby=project_id`));
      const rateAt = v2p.columns.indexOf("rate");
      const projectAt = v2p.columns.indexOf("project_id");
      expect(new Map(v2p.results.map((r) => [r[projectAt]!, dec(r[rateAt]!)]))).to.deep.equal(want);
      // v1 writes its total as a JSON string.
      const v1total = async (query: string) => dec(JSON.parse(await get(`/v1/report/total?begin=${b}&end=${e}&${query}`)) as string);
      expect(await v1total("all_tenants=true")).to.equal(all);
      for (const [project, rate] of want) expect(await v1total(`tenant_id=${project}`), project).to.equal(rate);
      const v1s = exactJson<{ summary: { tenant_id: string; rate: string }[] }>(
        await get(`/v1/report/summary?begin=${b}&end=${e}&groupby=tenant_id&all_tenants=true`),
      );
      expect(new Map(v1s.summary.map((r) => [r.tenant_id, dec(r.rate)]))).to.deep.equal(want);
      expect((JSON.parse(await get(`/v1/report/tenants?begin=${b}&end=${e}`)) as string[]).sort()).to.deep.equal([...want.keys()].sort());
      const v1df = exactJson<{ dataframes: { resources: { rating: string }[] }[] }>(
        await get(`/v1/storage/dataframes?begin=${b}&end=${e}`),
      );
      const resources = v1df.dataframes.flatMap((d) => d.resources);
      expect(resources).to.have.length(periods * pointsPerPeriod());
      expect(resources.reduce((sum, r) => sum + dec(r.rating), 0n)).to.equal(all);
      const client = exactJson<{ "Project id": string; Rate: string }[]>(
        await ckValue("summary", "get", "-b", `${b}Z`, "-e", `${e}Z`, "-g", "project_id", "-f", "json"),
      );
      expect(new Map(client.map((r) => [r["Project id"], dec(r.Rate)]))).to.deep.equal(want);
      const clientV1 = await ckValue("--os-rating-api-version", "1", "total", "get", "-b", `${b}Z`, "-e", `${e}Z`, "-a", "-f", "value");
      expect(dec(clientV1)).to.equal(all);
      console.log(
        `      v2 summary = v1 report/total = the client = ${formatNanos(all)} over ${periods} periods; per project equal in each`,
      );
    });

    it("an outage of ratestore during processing loses and doubles nothing: CloudKitty retries the periods it could not push", async () => {
      const logFile = join(dir, "cloudkitty.log");
      const logAt = readFileSync(logFile, "utf8").length;
      await api.pause();
      const pausedAt = Date.now();
      const failure = await until("CloudKitty to fail a push", 120, async () => {
        const log = readFileSync(logFile, "utf8").slice(logAt);
        return /Error processing scope/.test(log) ? log : undefined;
      });
      // One more period comes due while ratestore is down.
      await sleep(PERIOD * 1000);
      await api.resume();
      const outage = (Date.now() - pausedAt) / 1000;
      // Every period due by now: CloudKitty processes a period once the next one has passed.
      const due = Math.floor((Date.now() / 1000 - first) / PERIOD) - 1;
      const got = await processed(due, 180);
      expectExact(got, perPeriod, due);
      expect(await pointCount(first, first + due * PERIOD)).to.equal(due * pointsPerPeriod());
      const errors = failure.match(/Error processing scope/g)!.length;
      console.log(
        `      ratestore down ${outage.toFixed(0)} s: ${errors} failed push(es) logged by CloudKitty, then all ${due} periods stored exactly once`,
      );
    });

    it("reprocessing after a price change re-rates exactly each scope's points, the period at the window's end once", async () => {
      // A price corrected from the first period on, as CloudKitty 25 versions rules: the running rule is
      // deleted and its successor starts in the past (`force`, which the client does not offer).
      const removed = await ck("hashmap", "mapping", "delete", smallMapping);
      expect(removed.code, removed.stderr).to.equal(0);
      const created = await fetch(`${ckUrl}/v1/rating/module_config/hashmap/mappings?force=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ field_id: flavorField, value: "m1.small", type: "flat", cost: "0.75", start: iso(first - PERIOD) }),
      });
      expect(created.status, await created.clone().text()).to.equal(201);
      const repriced = expectedPerPeriod(cloud, { ...PRICES, "m1.small": "0.75" });
      const [start, end] = [first, first + 3 * PERIOD];
      const projects = [...perPeriod.keys()];
      const window = ["--start-reprocess-time", `${iso(start)}Z`, "--end-reprocess-time", `${iso(end)}Z`];
      const scopes = projects.flatMap((p) => ["--scope-id", p]);
      const scheduled = await ck("tasks", "reprocessing", "create", ...scopes, ...window, "--reason", "price change");
      expect(scheduled.code, scheduled.stderr).to.equal(0);
      type Schedule = { current_reprocess_time: string | null; end_reprocess_time: string };
      await until("the reprocessing to finish", 180, async () => {
        const res = (await (await fetch(`${ckUrl}/v2/task/reprocesses?limit=100`)).json()) as { results: Schedule[] };
        const finished = (r: Schedule) =>
          r.current_reprocess_time !== null && Date.parse(r.current_reprocess_time) === Date.parse(r.end_reprocess_time);
        return res.results.length === projects.length && res.results.every(finished) ? true : undefined;
      });
      const got = await stored(start, end + PERIOD);
      // [start, end] inclusive: CloudKitty re-rates the period that begins at the window's end too.
      expect([...got.keys()].sort()).to.deep.equal([0, 1, 2, 3].map((i) => start + i * PERIOD));
      for (const [at, periodProjects] of got)
        for (const [project, amounts] of repriced) expect(periodProjects.get(project), `${iso(at)} ${project}`).to.deep.equal(amounts);
      expect(await pointCount(start, end + PERIOD)).to.equal(4 * pointsPerPeriod());
      console.log(`      ${projects.length} scopes × 4 periods re-rated at the new price, exactly, each point once`);
    });
  },
);
