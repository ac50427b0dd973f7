import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ClusterClient } from "../../src/storage/search-engine/client.js";
import { detectProfile } from "../../src/storage/search-engine/profile-detection.js";
import type Mocha from "mocha";
import { prebuildVenvs } from "./python.js";
import { ENGINE_INDEPENDENT_SUITES, GIVEN_CLUSTER, URLS_VARIABLE, groupByEngine, testEngines, type TestEngine } from "./engines.js";

/**
 * Provisions the real engines the integration tests run against (test/support/engines.ts names them),
 * unless RATESTORE_CLUSTER_URL names a cluster: each is installed before the run, and its node runs
 * while its engine's suites do. Tests get nodes of their own
 * (from port RATESTORE_TEST_OS_PORT, default 9250, one port per engine) so they never touch a developer's
 * data on 9200; the nodes this run started are stopped afterwards (RATESTORE_KEEP_OPENSEARCH=1 keeps them).
 */
const run = promisify(execFile);
const started = new Set<{ engine: TestEngine; port: number }>();

async function script(engine: TestEngine, port: number, cmd: string): Promise<string> {
  // Without RATESTORE_CLUSTER_URL: setup sets it for the tests, and the script would then provision (and stop) nothing.
  const { RATESTORE_CLUSTER_URL: _ours, OPENSEARCH_URL: _older, ...env } = process.env;
  const pending = run("bash", ["scripts/engine-local.sh", cmd], {
    env: {
      ...env,
      RATESTORE_ENGINE: engine.provision!.engine,
      RATESTORE_ENGINE_VERSION: engine.provision!.version,
      RATESTORE_ENGINE_PORT: String(port),
    },
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  pending.child.stderr?.pipe(process.stderr);
  return (await pending).stdout;
}

async function runsThere(engine: TestEngine, port: number): Promise<boolean> {
  try {
    return (await script(engine, port, "status")).startsWith("running");
  } catch {
    return false; // status exits non-zero when stopped
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/_cluster/health`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * A port for each engine: the one its node from an earlier run still serves on, else the next one nothing
 * answers on (another checkout, or another engine of this run, may hold the first).
 */
async function choosePorts(engines: readonly TestEngine[]): Promise<{ engine: TestEngine; port: number; running: boolean }[]> {
  const first = Number(process.env.RATESTORE_TEST_OS_PORT ?? "9250");
  const taken = new Set<number>();
  const chosen = [];
  for (const engine of engines) {
    let pick: { port: number; running: boolean } | undefined;
    for (let port = first; port < first + 10 && !pick; port++) {
      if (taken.has(port)) continue;
      if (await runsThere(engine, port)) pick = { port, running: true };
      else if (!(await answers(port))) pick = { port, running: false };
    }
    if (!pick) throw new Error(`ports ${first}-${first + 9} are all taken; set RATESTORE_TEST_OS_PORT or RATESTORE_CLUSTER_URL`);
    taken.add(pick.port);
    chosen.push({ engine, ...pick });
  }
  return chosen;
}

async function describeCluster(label: string, url: string): Promise<void> {
  const client = new ClusterClient({ urls: url.split(","), tlsVerify: true, requestTimeoutMs: 30_000, profile: {} });
  try {
    const { profile, clusterName } = await detectProfile(client);
    console.log(
      `[${label}] ${profile.distribution} ${profile.version} (cluster ${clusterName}) at ${url}; profile: ${JSON.stringify(profile)}`,
    );
  } finally {
    await client.close();
  }
}

export async function mochaGlobalSetup(this: Mocha.Runner): Promise<void> {
  if (process.env.RATESTORE_SKIP_CLUSTER === "1") return;
  prebuildVenvs();
  if (!ENGINE_INDEPENDENT_SUITES)
    console.log("[setup] the suites that cannot differ by engine are left out (RATESTORE_TEST_ENGINE_INDEPENDENT=0)");
  // The older name of the setting still names the cluster to test against; the suites read the new one.
  if (!process.env.RATESTORE_CLUSTER_URL && process.env.OPENSEARCH_URL) process.env.RATESTORE_CLUSTER_URL = process.env.OPENSEARCH_URL;
  delete process.env.OPENSEARCH_URL;
  const urls: Record<string, string> = {};
  const publish = () => {
    process.env[URLS_VARIABLE] = JSON.stringify(urls);
  };
  if (process.env.RATESTORE_CLUSTER_URL) {
    urls[GIVEN_CLUSTER] = process.env.RATESTORE_CLUSTER_URL;
    publish();
    await describeCluster(GIVEN_CLUSTER, urls[GIVEN_CLUSTER]);
    return;
  }
  const nodes = await choosePorts(testEngines());
  // Installed before the run, the first alone (it sets up Maven and whatever the machine lacks), the others
  // side by side, so that downloads overlap; each node then runs only while its engine's suites do.
  const [head, ...rest] = nodes;
  await script(head!.engine, head!.port, "install");
  for (const r of await Promise.allSettled(rest.map((n) => script(n.engine, n.port, "install"))))
    if (r.status === "rejected") throw r.reason;
  const portOf = new Map(nodes.map((n) => [n.engine.label, n]));
  groupByEngine(this.suite, {
    async start(engine) {
      const n = portOf.get(engine.label)!;
      await script(engine, n.port, "start");
      if (!n.running) started.add(n);
      const url = `http://127.0.0.1:${n.port}`;
      urls[engine.label] = url;
      publish();
      await describeCluster(engine.label, url);
    },
    async stop(engine) {
      const n = portOf.get(engine.label)!;
      if (!started.has(n) || process.env.RATESTORE_KEEP_OPENSEARCH === "1") return;
      await script(engine, n.port, "stop");
      started.delete(n);
    },
  });
}

/** Stops what a group's own hook did not (a run that was interrupted or bailed). */
export async function mochaGlobalTeardown(): Promise<void> {
  if (process.env.RATESTORE_KEEP_OPENSEARCH === "1") return;
  await Promise.all([...started].map((n) => script(n.engine, n.port, "stop")));
  started.clear();
}
