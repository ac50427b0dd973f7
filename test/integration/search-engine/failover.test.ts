import { expect } from "chai";
import { startApi, type TestApi } from "../../support/api.js";
import { testStorageConfig } from "../../support/cluster.js";
import { HOUR, wireFrames } from "../../support/data.js";
import { OwnNode } from "../../support/node.js";
import type { DataFrame, RatedPoint } from "../../../src/storage/dataframe.js";
import { clusterUrl, onDefaultEngine } from "../../support/engines.js";

/**
 * Several cluster URLs with client-side failover: a 3-node cluster on this machine (replicas 1), the
 * service given all three URLs, and the node named first killed with SIGKILL in the middle of pushes.
 * Every push is sent until it is acknowledged (pushes are idempotent), so the exact count of distinct
 * points must be what the cluster holds; once the cluster has recovered, no request may get a 5xx.
 */

const B = Date.parse("2024-10-01T00:00:00Z");
const PUSHES = 60;
const PER_PUSH = 500;

function pushFrames(n: number): DataFrame[] {
  const points: RatedPoint[] = [];
  for (let i = 0; i < PER_PUSH; i++)
    points.push({
      type: "cpu",
      unit: "h",
      qty: 1_000_000_000n,
      price: 1_000_000_000n,
      groupby: { project_id: `p${i % 7}`, id: `${n}-${i}` },
      metadata: {},
    });
  return [{ begin: B + n * HOUR, end: B + (n + 1) * HOUR, points }];
}

onDefaultEngine("failover: three nodes, the first URL's node killed during pushes", function () {
  this.timeout(600_000);
  let nodes: OwnNode[];
  let api: TestApi;

  before(async () => {
    const base = Number(new URL(clusterUrl().split(",")[0]!).port) + 60;
    const ports = [base, base + 1, base + 2];
    nodes = ports.map((p) => new OwnNode(p, ports));
    await Promise.all(nodes.map((n) => n.startAsync()));
    const urls = nodes.map((n) => n.url);
    const storage = testStorageConfig();
    api = await startApi({ RATESTORE_CLUSTER_URL: urls.join(",") }, undefined, {
      cluster: { ...storage.cluster, urls, requestTimeoutMs: 20_000 },
      replicas: 1,
      bulk: { ...storage.bulk, retries: 3 },
    });
  });
  after(async () => {
    try {
      await api?.close();
    } finally {
      for (const n of nodes ?? []) n.stop();
    }
  });

  it("loses nothing acknowledged, stores nothing twice, and answers no 5xx once the cluster has recovered", async () => {
    const statuses: number[] = [];
    let killedAt = -1;
    for (let n = 0; n < PUSHES; n++) {
      if (n === PUSHES / 3) {
        await nodes[0]!.kill9();
        killedAt = statuses.length;
      }
      for (let attempt = 1; ; attempt++) {
        const res = await api.call("/v2/dataframes", { json: { dataframes: wireFrames(pushFrames(n)) } });
        statuses.push(res.status);
        await res.arrayBuffer();
        if (res.status === 204) break;
        expect(attempt, `push ${n} still failing (${res.status})`).to.be.lessThan(30);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const failures = statuses.slice(killedAt).filter((s) => s >= 500).length;
    console.log(`      ${statuses.length} push requests; ${failures} answered 5xx after the kill, before recovery`);

    // The survivors elect a manager and promote replicas: wait for every shard to have a primary.
    const health = await fetch(`${nodes[1]!.url}/_cluster/health?wait_for_status=yellow&timeout=60s`);
    expect(((await health.json()) as { status: string }).status).to.be.oneOf(["yellow", "green"]);

    const after: number[] = [];
    for (let n = PUSHES; n < PUSHES + 10; n++) {
      const res = await api.call("/v2/dataframes", { json: { dataframes: wireFrames(pushFrames(n)) } });
      after.push(res.status);
      await res.arrayBuffer();
    }
    const summary = await api.call(
      `/v2/summary?begin=${new Date(B).toISOString()}&end=${new Date(B + (PUSHES + 10) * HOUR).toISOString()}&response_format=object`,
    );
    after.push(summary.status);
    const body = (await summary.json()) as { results: { qty: number }[] };
    const page = await api.call(`/v2/dataframes?begin=${new Date(B).toISOString()}&end=${new Date(B + 2 * HOUR).toISOString()}&limit=2000`);
    after.push(page.status);
    const frames = (await page.json()) as { total: number };
    expect(
      after.filter((s) => s >= 500),
      "5xx after recovery",
    ).to.deep.equal([]);
    expect(body.results[0]!.qty, "acknowledged points equal present points").to.equal((PUSHES + 10) * PER_PUSH);
    expect(frames.total).to.equal(2 * PER_PUSH);
    const count = (await (await fetch(`${nodes[2]!.url}/${api.backend.partitions.alias}/_count`)).json()) as { count: number };
    expect(count.count, "documents in the cluster").to.equal((PUSHES + 10) * PER_PUSH);
  });
});
