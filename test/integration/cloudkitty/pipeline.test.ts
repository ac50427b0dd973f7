import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../../src/backoff.js";
import { formatNanos, type Nanos } from "../../../src/storage/decimal.js";
import { ADMIN_KEY, startApi, type TestApi } from "../../support/api.js";
import {
  PERIOD,
  PRICES,
  deployCloudKitty,
  exactJson,
  expectedPerPeriod,
  iso,
  startMonitoredCloud,
  until,
  type Amounts,
  type CloudKittyDeployment,
  type MonitoredCloud,
} from "../../support/cloudkitty-deployment.js";
import { dec } from "../../support/data.js";
import { onDefaultEngine } from "../../support/engines.js";
import { CLOUDKITTY_REQUIREMENTS, venvPython } from "../../support/python.js";

/**
 * CloudKitty 25.0.0's whole pipeline on ratestore, as an operator deploys it (test/support/cloudkitty-deployment.ts):
 * exporter → Prometheus → cloudkitty-processor → the ratestore driver → ratestore; then CloudKitty's own
 * API (v1 and v2) and python-cloudkittyclient on the same configuration. A period is processed once the
 * next one has passed (wait_periods 1), every 10 s.
 */

onDefaultEngine(
  "CloudKitty pipeline: Prometheus → cloudkitty-processor → driver → ratestore, then CloudKitty's API and client",
  function () {
    this.timeout(900_000);
    let api: TestApi;
    let dir: string;
    let monitored: MonitoredCloud;
    let ck: CloudKittyDeployment;
    let perPeriod: Map<string, Amounts>;
    /** The start of the first period CloudKitty processes. */
    let first: number;
    const pointsPerPeriod = () => monitored.cloud.instances.length + monitored.cloud.volumes.length;

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

    function expectExact(got: Map<number, Map<string, Amounts>>, want: Map<string, Amounts>, periods: number) {
      expect([...got.keys()].sort()).to.deep.equal(Array.from({ length: periods }, (_, i) => first + i * PERIOD));
      for (const [at, projects] of got)
        for (const [project, amounts] of want) expect(projects.get(project), `${iso(at)} ${project}`).to.deep.equal(amounts);
    }

    before(async function () {
      const python = venvPython(CLOUDKITTY_REQUIREMENTS);
      api = await startApi();
      dir = mkdtempSync(join(tmpdir(), "ck-pipeline-"));
      monitored = await startMonitoredCloud(python, dir);
      perPeriod = expectedPerPeriod(monitored.cloud, PRICES);
      mkdirSync(join(dir, "ratestore"));
      // Few retries, so that the outage test sees a push fail within the outage.
      ck = await deployCloudKitty(python, join(dir, "ratestore"), monitored.prometheus, {
        backend: "ratestore",
        url: api.url,
        apiKey: ADMIN_KEY,
        retries: 1,
      });
      // The first period starts after Prometheus has samples.
      first = Math.ceil(Date.now() / 1000 / PERIOD) * PERIOD;
      await ck.startProcessing(first, [...perPeriod.keys()]);
    });

    afterEach(function () {
      // CloudKitty's own log says what it did when a test of it fails.
      if (this.currentTest?.state === "failed") console.log(readFileSync(ck.logFile, "utf8").split("\n").slice(-60).join("\n"));
    });

    after(async () => {
      await ck?.stop();
      await monitored?.stop();
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
        const res = await fetch(ck.api + path);
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
        await ck.clientValue("summary", "get", "-b", `${b}Z`, "-e", `${e}Z`, "-g", "project_id", "-f", "json"),
      );
      expect(new Map(client.map((r) => [r["Project id"], dec(r.Rate)]))).to.deep.equal(want);
      const clientV1 = await ck.clientValue(
        "--os-rating-api-version",
        "1",
        "total",
        "get",
        "-b",
        `${b}Z`,
        "-e",
        `${e}Z`,
        "-a",
        "-f",
        "value",
      );
      expect(dec(clientV1)).to.equal(all);
      console.log(
        `      v2 summary = v1 report/total = the client = ${formatNanos(all)} over ${periods} periods; per project equal in each`,
      );
    });

    it("an outage of ratestore during processing loses and doubles nothing: CloudKitty retries the periods it could not push", async () => {
      const logAt = readFileSync(ck.logFile, "utf8").length;
      await api.pause();
      const pausedAt = Date.now();
      const failure = await until("CloudKitty to fail a push", 120, async () => {
        const log = readFileSync(ck.logFile, "utf8").slice(logAt);
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
      const cost: Nanos = dec("0.75");
      await ck.reprice("m1.small", formatNanos(cost), first - PERIOD);
      const repriced = expectedPerPeriod(monitored.cloud, { ...PRICES, "m1.small": formatNanos(cost) });
      const [start, end] = [first, first + 3 * PERIOD];
      const scopes = [...perPeriod.keys()];
      await ck.reprocess(scopes, start, end, 180);
      const got = await stored(start, end + PERIOD);
      // [start, end] inclusive: CloudKitty re-rates the period that begins at the window's end too, without
      // deleting it first; the driver replaces that scope's rating of it (integrations/cloudkitty).
      expect([...got.keys()].sort()).to.deep.equal([0, 1, 2, 3].map((i) => start + i * PERIOD));
      for (const [at, periodProjects] of got)
        for (const [project, amounts] of repriced) expect(periodProjects.get(project), `${iso(at)} ${project}`).to.deep.equal(amounts);
      expect(await pointCount(start, end + PERIOD)).to.equal(4 * pointsPerPeriod());
      console.log(`      ${scopes.length} scopes × 4 periods re-rated at the new price, exactly, each point once`);
    });
  },
);
