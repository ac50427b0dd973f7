import { expect } from "chai";
import { ADMIN_KEY, startApi, type TestApi } from "../../support/api.js";
import { testStorageConfig } from "../../support/cluster.js";
import { HOUR, wireFrames } from "../../support/data.js";
import { OwnNode } from "../../support/node.js";
import type { DataFrame, RatedPoint } from "../../../src/storage/dataframe.js";
import { clusterUrl, onDefaultEngine } from "../../support/engines.js";

/**
 * Exact failure semantics against a real crash: the node is killed (SIGKILL) while two 20,000-point
 * pushes are being written, then started again. Every answer must match what the index holds.
 */

const B = Date.parse("2024-11-01T00:00:00Z");
const POINTS = 20_000;

/** 20,000 points of one push, each with a unique resource id `<push>-<n>` so presence can be checked point by point. */
function pushFrames(push: string): DataFrame[] {
  const frames: { begin: number; end: number; points: RatedPoint[] }[] = [];
  for (let h = 0; h < 4; h++) frames.push({ begin: B + h * HOUR, end: B + (h + 1) * HOUR, points: [] });
  for (let i = 0; i < POINTS; i++) {
    frames[i % 4]!.points.push({
      type: "cpu",
      unit: "h",
      qty: 1_000_000_000n,
      price: 1_000_000_000n,
      groupby: { project_id: "p", id: `${push}-${i}` },
      metadata: {},
    });
  }
  return frames;
}

interface Failure {
  details: { path: string; outcome: "not_stored" | "unknown" }[];
  stored: number;
  duplicates: number;
  not_stored: number;
  unknown: number;
}

const PATH_RE = /^dataframes\[(\d+)\]\.usage\.cpu\[(\d+)\]$/;

onDefaultEngine("push faults: the node killed during 20,000-point pushes, then restarted", function () {
  this.timeout(300_000);
  let node: OwnNode;
  let api: TestApi;

  before(async () => {
    // Known once the global setup has chosen the shared node's port.
    node = new OwnNode(Number(new URL(clusterUrl().split(",")[0]!).port) + 40);
    node.start();
    const base = testStorageConfig();
    api = await startApi({ RATESTORE_CLUSTER_URL: node.url }, undefined, {
      cluster: { ...base.cluster, urls: [node.url] },
      bulk: { ...base.bulk, maxDocs: 1000, retries: 2 },
    });
  });
  after(async () => {
    try {
      await api?.close();
    } finally {
      node?.stop();
    }
  });

  it("answers exactly which points are stored, not stored and unknown; nothing is written after the answer; acknowledged equals present", async () => {
    const pushes = ["a", "b"].map((name) => ({ name, frames: pushFrames(name) }));
    const answers: { name: string; status: number; body: unknown; requestsAtAnswer: number }[] = [];
    const sent = pushes.map(async ({ name, frames }) => {
      const res = await api.call("/v2/dataframes", { json: { dataframes: wireFrames(frames) } });
      answers.push({
        name,
        status: res.status,
        body: res.status === 204 ? undefined : await res.json(),
        requestsAtAnswer: api.backend.writeStats().bulkRequests,
      });
    });
    // Kill the node once part of the data is in: poll its document count.
    for (;;) {
      const res = await fetch(`${node.url}/${api.backend.partitions.alias}/_count`).catch(() => undefined);
      const count = res?.ok ? ((await res.json()) as { count: number }).count : 0;
      if (count >= 3000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await node.kill9();
    await Promise.all(sent);
    const requestsAfterAnswers = api.backend.writeStats().bulkRequests;
    node.start();
    await api.backend.refresh();
    // No push sent anything after its answer: the writer's request counter did not move since.
    expect(api.backend.writeStats().bulkRequests).to.equal(requestsAfterAnswers);
    expect(Math.max(...answers.map((a) => a.requestsAtAnswer))).to.equal(requestsAfterAnswers);

    // What the index holds, point by point.
    const present = new Set<string>();
    const res = await api.call(`/v2/dataframes/export?begin=${new Date(B).toISOString()}&end=${new Date(B + 4 * HOUR).toISOString()}`, {
      key: ADMIN_KEY,
    });
    for (const line of (await res.text()).trim().split("\n")) {
      if (!line) continue;
      for (const p of (JSON.parse(line) as { usage: { cpu: { groupby: { id: string } }[] } }).usage.cpu) present.add(p.groupby.id);
    }

    let acknowledged = 0;
    for (const a of answers) {
      const { frames } = pushes.find((p) => p.name === a.name)!;
      const idAt = (df: number, index: number) => frames[df]!.points[index]!.groupby.id as string;
      const all = frames.flatMap((f) => f.points.map((p) => p.groupby.id as string));
      if (a.status === 204) {
        acknowledged += all.length;
        for (const id of all) expect(present.has(id), `${id} acknowledged by a 204 but absent`).to.equal(true);
        continue;
      }
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).to.equal(503);
      const body = a.body as Failure;
      const notStored = new Set<string>();
      const unknown = new Set<string>();
      for (const d of body.details) {
        const m = PATH_RE.exec(d.path)!;
        (d.outcome === "unknown" ? unknown : notStored).add(idAt(Number(m[1]), Number(m[2])));
      }
      expect(notStored.size).to.equal(body.not_stored);
      expect(unknown.size).to.equal(body.unknown);
      expect(body.stored + body.duplicates + body.not_stored + body.unknown).to.equal(POINTS);
      const stored = all.filter((id) => !notStored.has(id) && !unknown.has(id));
      acknowledged += stored.length;
      for (const id of stored) expect(present.has(id), `${id} reported stored but absent`).to.equal(true);
      for (const id of notStored) expect(present.has(id), `${id} reported not stored but present`).to.equal(false);
      console.log(
        `      push ${a.name}: ${body.stored} stored, ${body.not_stored} not stored, ${body.unknown} unknown (of which ${[...unknown].filter((id) => present.has(id)).length} present after the restart)`,
      );
    }
    expect(
      answers.some((a) => a.status === 503),
      "the kill hit no push",
    ).to.equal(true);
    // Acknowledged points are all present; the only other present points are unknown ones.
    const presentAcknowledged = [...present].length;
    expect(presentAcknowledged).to.be.at.least(acknowledged);
    console.log(`      acknowledged ${acknowledged}, present ${present.size}`);
  });
});
