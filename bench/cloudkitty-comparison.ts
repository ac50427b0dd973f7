/**
 * The side by side: the same CloudKitty 25.0.0 deployment (test/support/cloudkitty-deployment.ts) run
 * twice on one node, once on ratestore through its driver and once on CloudKitty's own `opensearch`
 * backend, fed by one Prometheus; both process the same periods, are repriced and reprocessed alike, then
 * answer the same queries through CloudKitty's API and python-cloudkittyclient. Prints a table of every
 * answer with what the exact one is. Not a test: it reports CloudKitty's behaviour, it asserts nothing.
 *
 *   npm run compare:cloudkitty          (RATESTORE_ENGINE / RATESTORE_ENGINE_VERSION choose the node;
 *                                        RATESTORE_ENGINE_PORT its port, 9241 by default)
 *
 * The node keeps the modules of its distribution (RATESTORE_OS_MODULES=full): CloudKitty's backend
 * deletes with `_delete_by_query`, which the reindex module serves and every OpenSearch distribution has.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.js";
import { formatNanos, type Nanos } from "../src/storage/decimal.js";
import { ADMIN_KEY, startApi } from "../test/support/api.js";
import {
  PERIOD,
  PRICES,
  deployCloudKitty,
  expectedPerPeriod,
  iso,
  startMonitoredCloud,
  until,
  type CloudKittyDeployment,
} from "../test/support/cloudkitty-deployment.js";
import { venvPython } from "../test/support/python.js";

const PERIODS = 6;
const REPROCESSED = 3; // the reprocessing window is [first, first + 3 periods], its end inclusive, as CloudKitty takes it
const NEW_SMALL = "0.75";

interface Answer {
  status: string;
  body: string;
}

/** A short rendering of an answer: the amounts and counts that matter, not the whole body. */
function brief(a: Answer): string {
  let v: unknown;
  try {
    v = JSON.parse(a.body);
  } catch {
    return `${a.status} ${a.body.trim().slice(0, 60)}`;
  }
  const o = v as Record<string, unknown>;
  if (Array.isArray(o?.columns) && Array.isArray(o.results)) {
    const cols = o.columns as string[];
    const rows = o.results as unknown[][];
    const rate = cols.indexOf("rate");
    return `${a.status} ${rows.length} rows${
      rows.length
        ? `; rate ${rows
            .slice(0, 4)
            .map((r) => String(r[rate]))
            .join(", ")}${rows.length > 4 ? ", …" : ""}`
        : ""
    }`;
  }
  if (Array.isArray(o?.dataframes))
    return `${a.status} ${o.dataframes.length} dataframes${o.total !== undefined ? `, total ${String(o.total)}` : ""}`;
  if (Array.isArray(o?.summary))
    return `${a.status} ${o.summary.length} rows; rate ${(o.summary as { rate: unknown }[]).map((r) => String(r.rate)).join(", ")}`;
  if (Array.isArray(v))
    return `${a.status} ${v.length} items${v.length && typeof v[0] === "object" ? `; ${JSON.stringify(v[0]).slice(0, 70)}` : `: ${JSON.stringify(v).slice(0, 70)}`}`;
  if (o && typeof o === "object" && "message" in o) return `${a.status} ${String(o.message).slice(0, 70)}`;
  return `${a.status} ${JSON.stringify(v).slice(0, 70)}`;
}

async function ask(ck: CloudKittyDeployment, query: string): Promise<Answer> {
  if (query.startsWith("cloudkitty ")) {
    const res = await ck.client(...query.slice("cloudkitty ".length).split(" "));
    return { status: res.code === 0 ? "ok" : `exit ${res.code}`, body: res.code === 0 ? res.stdout : res.stderr.trim().split("\n").pop()! };
  }
  const res = await fetch(ck.api + query);
  return { status: String(res.status), body: await res.text() };
}

async function main(): Promise<void> {
  const port = Number(process.env.RATESTORE_ENGINE_PORT ?? 9241);
  const provisioning = { ...process.env, RATESTORE_ENGINE_PORT: String(port), RATESTORE_OS_MODULES: "full" };
  execFileSync("bash", ["scripts/engine-local.sh", "ensure"], { env: provisioning, stdio: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  const python = venvPython("integrations/cloudkitty/test-requirements.txt");
  const api = await startApi({}, undefined, { cluster: loadConfig({ RATESTORE_CLUSTER_URL: url }).storage.cluster });
  const dir = mkdtempSync(join(tmpdir(), "ck-compare-"));
  const monitored = await startMonitoredCloud(python, dir);
  const stores = {
    ratestore: { backend: "ratestore", url: api.url, apiKey: ADMIN_KEY, retries: 5 },
    "CloudKitty's opensearch": { backend: "opensearch", host: url, index: `ckos-${Date.now().toString(36)}` },
  } as const;
  const deployments: [string, CloudKittyDeployment][] = [];
  try {
    for (const [name, storage] of Object.entries(stores)) {
      const sub = join(dir, name.replace(/\W+/g, "-"));
      mkdirSync(sub);
      deployments.push([name, await deployCloudKitty(python, sub, monitored.prometheus, storage)]);
    }
    const perPeriod = expectedPerPeriod(monitored.cloud, PRICES);
    const scopes = [...perPeriod.keys()];
    const first = Math.ceil(Date.now() / 1000 / PERIOD) * PERIOD;
    for (const [, ck] of deployments) await ck.startProcessing(first, scopes);
    console.error(`[compare] both deployments process ${PERIODS} periods of ${PERIOD} s from ${iso(first)}Z`);
    const [b, e] = [iso(first), iso(first + PERIODS * PERIOD)];
    for (const [name, ck] of deployments)
      await until(`${name} to process ${PERIODS} periods`, 300, async () => {
        const res = await fetch(`${ck.api}/v2/summary?begin=${b}&end=${e}&groupby=time&groupby=project_id&limit=1000`);
        const body = (await res.json()) as { results?: unknown[] };
        return (body.results?.length ?? 0) >= PERIODS * scopes.length ? true : undefined;
      });
    console.error(`[compare] both processed ${PERIODS} periods; repricing m1.small to ${NEW_SMALL} and reprocessing`);
    // A reprocessing that does not finish is reported, with the error CloudKitty logged, and the queries go on.
    const reprocessing: string[] = [];
    for (const [, ck] of deployments) {
      await ck.reprice("m1.small", NEW_SMALL, first - PERIOD);
      const logAt = readFileSync(ck.logFile, "utf8").length;
      try {
        await ck.reprocess(scopes, first, first + REPROCESSED * PERIOD, 120);
        reprocessing.push("finished");
      } catch {
        // The exception CloudKitty logged last: its class and message.
        const log = readFileSync(ck.logFile, "utf8").slice(logAt);
        const raised = [...log.matchAll(/ ERROR \S+ ([\w.]+(?:Error|Exception|StatusCode)): (.*)$/gm)].pop();
        reprocessing.push(`**not finished in 120 s**: ${raised ? `${raised[1]}: ${raised[2]!.slice(0, 140)}` : "no error logged"}`);
      }
    }

    // The exact answers: periods [first, first + REPROCESSED] at the new price, the rest at the old one.
    const repriced = expectedPerPeriod(monitored.cloud, { ...PRICES, "m1.small": NEW_SMALL });
    const sum = (m: Map<string, { rate: Nanos }>) => [...m.values()].reduce((a, x) => a + x.rate, 0n);
    const exactTotal = sum(repriced) * BigInt(REPROCESSED + 1) + sum(perPeriod) * BigInt(PERIODS - REPROCESSED - 1);
    const [pa, pb] = scopes;
    const vm = monitored.cloud.instances.find(([, , f]) => f === "m1.large")![1];
    const queries: [string, string][] = [
      [`/v2/summary?begin=${b}&end=${e}`, `one row, rate ${formatNanos(exactTotal)}`],
      [`/v2/summary?begin=${b}&end=${e}&groupby=project_id`, `${scopes.length} rows`],
      [`/v2/summary?begin=${b}&end=${e}&groupby=type`, "2 rows"],
      [`/v2/summary?begin=${b}&end=${e}&groupby=time&groupby=project_id&limit=1000`, `${PERIODS * scopes.length} rows, each period once`],
      [`/v2/summary?begin=${b}&end=${e}&groupby=time-d`, "1 row (one day)"],
      [`/v2/summary?begin=${b}&end=${e}&groupby=time-m&groupby=project_id`, `${scopes.length} rows (one month)`],
      [`/v2/summary?begin=${b}&end=${e}&filters=project_id:${pa}`, "one row, that project"],
      [`/v2/summary?begin=${b}&end=${e}&filters=id:${vm}`, "one row, that instance"],
      [`/v2/summary?begin=${b}&end=${e}&filters=type:instance&groupby=project_id`, `${scopes.length} rows, instances only`],
      [`/v2/summary?begin=${b}&end=${e}&groupby=type&groupby=project_id&limit=2&offset=2`, "2 rows"],
      [
        `/v2/dataframes?begin=${b}&end=${e}&limit=1000`,
        `total ${PERIODS * (monitored.cloud.instances.length + monitored.cloud.volumes.length)}`,
      ],
      [`/v2/dataframes?begin=${b}&end=${e}&filters=id:${vm}&limit=1000`, `total ${PERIODS}`],
      [`/v1/report/total?begin=${b}&end=${e}&all_tenants=true`, formatNanos(exactTotal)],
      [`/v1/report/total?begin=${b}&end=${e}&tenant_id=${pb}`, "that tenant's total"],
      [`/v1/report/summary?begin=${b}&end=${e}&groupby=tenant_id&all_tenants=true`, `${scopes.length} rows`],
      [`/v1/report/tenants?begin=${b}&end=${e}`, `${scopes.length} tenants`],
      [`/v1/storage/dataframes?begin=${b}&end=${e}`, "every rated resource"],
      [`cloudkitty summary get -b ${b}Z -e ${e}Z -g project_id -f json`, `${scopes.length} rows`],
      [`cloudkitty --os-rating-api-version 1 total get -b ${b}Z -e ${e}Z -a -f value`, formatNanos(exactTotal)],
    ];
    const rows: string[] = [
      `| query | exact | ${deployments.map(([n]) => n).join(" | ")} | same |`,
      `| --- | --- | ${deployments.map(() => "---").join(" | ")} | --- |`,
      `| reprocessing [B, B + ${REPROCESSED} periods] | finished | ${reprocessing.map((r) => r.replace(/\|/g, "\\|")).join(" | ")} | ${reprocessing.every((r) => r === reprocessing[0]) ? "yes" : "**no**"} |`,
    ];
    for (const [query, exact] of queries) {
      const answers = await Promise.all(deployments.map(([, ck]) => ask(ck, query)));
      const same = answers.every((a) => a.status === answers[0]!.status && a.body === answers[0]!.body);
      const shown = query.replace(b, "B").replace(e, "E").replace(pa!, "<project a>").replace(pb!, "<project b>").replace(vm, "<vm>");
      rows.push(
        `| \`${shown}\` | ${exact} | ${answers.map((a) => brief(a).replace(/\|/g, "\\|")).join(" | ")} | ${same ? "yes" : "**no**"} |`,
      );
    }
    console.log(
      `\nCloudKitty 25.0.0, the same deployment on two backends: ${PERIODS} periods of ${PERIOD} s from ${iso(first)}Z (B to E), ${scopes.length} scopes;`,
    );
    console.log(`m1.small repriced from ${PRICES["m1.small"]} to ${NEW_SMALL} and periods [B, B + ${REPROCESSED} periods] reprocessed.\n`);
    console.log(rows.join("\n"));
  } finally {
    for (const [, ck] of deployments) await ck.stop();
    await monitored.stop();
    await api.close();
  }
}

await main();
