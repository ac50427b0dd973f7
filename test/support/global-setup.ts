import { execFileSync } from "node:child_process";

/**
 * Provisions the real OpenSearch the integration tests run against, unless OPENSEARCH_URL names one.
 * Tests get their own node (port RATESTORE_TEST_OS_PORT, default 9250) so they never touch a developer's
 * data on 9200; the node is stopped afterwards if this run started it (RATESTORE_KEEP_OPENSEARCH=1 keeps it).
 */
let startedHere = false;
const port = process.env.RATESTORE_TEST_OS_PORT ?? "9250";

function script(cmd: string): string {
  // Without OPENSEARCH_URL: setup sets it for the tests, and the script would then provision (and stop) nothing.
  const { OPENSEARCH_URL: _ours, ...env } = process.env;
  return execFileSync("bash", ["scripts/opensearch-local.sh", cmd], {
    env: { ...env, RATESTORE_OS_PORT: port },
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
}

export async function mochaGlobalSetup(): Promise<void> {
  if (process.env.RATESTORE_SKIP_CLUSTER === "1") return;
  if (!process.env.OPENSEARCH_URL) {
    let running: boolean;
    try {
      running = script("status").startsWith("running");
    } catch {
      running = false; // status exits non-zero when stopped
    }
    script("start");
    startedHere = !running;
    process.env.OPENSEARCH_URL = `http://127.0.0.1:${port}`;
  }
  const res = await fetch(process.env.OPENSEARCH_URL);
  const info = (await res.json()) as { cluster_name?: string; version?: { number?: string; distribution?: string } };
  const plugins = await (await fetch(`${process.env.OPENSEARCH_URL}/_cat/plugins?format=json`)).json();
  console.log(
    `\nIntegration tests run against ${info.version?.distribution ?? "elasticsearch"} ${info.version?.number} ` +
      `(cluster ${info.cluster_name}) at ${process.env.OPENSEARCH_URL}; plugins: ${JSON.stringify((plugins as { component: string }[]).map((p) => p.component))}\n`,
  );
}

export async function mochaGlobalTeardown(): Promise<void> {
  if (startedHere && process.env.RATESTORE_KEEP_OPENSEARCH !== "1") script("stop");
}
