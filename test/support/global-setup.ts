import { execFileSync } from "node:child_process";
import { ClusterClient } from "../../src/storage/search-engine/client.js";
import { detectProfile } from "../../src/storage/search-engine/profile-detection.js";

/**
 * Provisions the real engine the integration tests run against, unless RATESTORE_CLUSTER_URL names a cluster:
 * RATESTORE_ENGINE (opensearch, elasticsearch) at RATESTORE_ENGINE_VERSION, as scripts/engine-local.sh
 * does. Tests get their own node (port RATESTORE_TEST_OS_PORT, default 9250) so they never touch a
 * developer's data on 9200; the node is stopped afterwards if this run started it
 * (RATESTORE_KEEP_OPENSEARCH=1 keeps it).
 */
let startedHere = false;
let port = process.env.RATESTORE_TEST_OS_PORT ?? "9250";

function script(cmd: string): string {
  // Without RATESTORE_CLUSTER_URL: setup sets it for the tests, and the script would then provision (and stop) nothing.
  const { RATESTORE_CLUSTER_URL: _ours, OPENSEARCH_URL: _older, ...env } = process.env;
  return execFileSync("bash", ["scripts/engine-local.sh", cmd], {
    env: { ...env, RATESTORE_ENGINE_PORT: port },
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
}

function ownNodeRunning(): boolean {
  try {
    return script("status").startsWith("running");
  } catch {
    return false; // status exits non-zero when stopped
  }
}

async function answers(p: string): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${p}/_cluster/health`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/** The test port: ours if our node runs there, else the first of ten that nothing answers on (another checkout may hold 9250). */
async function choosePort(): Promise<boolean> {
  const first = Number(port);
  for (let p = first; p < first + 10; p++) {
    port = String(p);
    if (ownNodeRunning()) return true;
    if (!(await answers(port))) return false;
  }
  throw new Error(
    `ports ${first}-${first + 9} are all taken by nodes this checkout did not start; set RATESTORE_TEST_OS_PORT or RATESTORE_CLUSTER_URL`,
  );
}

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.RATESTORE_SKIP_CLUSTER === "1") return;
  // The older name of the setting still names the cluster to test against; the suites read the new one.
  if (!process.env.RATESTORE_CLUSTER_URL && process.env.OPENSEARCH_URL) process.env.RATESTORE_CLUSTER_URL = process.env.OPENSEARCH_URL;
  delete process.env.OPENSEARCH_URL;
  if (!process.env.RATESTORE_CLUSTER_URL) {
    const running = await choosePort();
    script("start");
    startedHere = !running;
    process.env.RATESTORE_CLUSTER_URL = `http://127.0.0.1:${port}`;
  }
  const client = new ClusterClient({
    urls: process.env.RATESTORE_CLUSTER_URL.split(","),
    tlsVerify: true,
    requestTimeoutMs: 30_000,
    profile: {},
  });
  try {
    const { profile, clusterName } = await detectProfile(client);
    console.log(
      `\nIntegration tests run against ${profile.distribution} ${profile.version} (cluster ${clusterName}) at ${process.env.RATESTORE_CLUSTER_URL}; profile: ${JSON.stringify(profile)}\n`,
    );
  } finally {
    await client.close();
  }
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (startedHere && process.env.RATESTORE_KEEP_OPENSEARCH !== "1") script("stop");
}
