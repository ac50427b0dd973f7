import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { DataFrame } from "../../../src/storage/dataframe.js";
import { documentJson, periodTexts } from "../../../src/storage/search-engine/documents.js";
import { ilmPolicyBody } from "../../../src/storage/search-engine/retention/ilm-retention.js";
import { ismPolicyBody } from "../../../src/storage/search-engine/retention/ism-retention.js";
import { freshBackend, testStorageConfig } from "../../support/cluster.js";
import { startApi } from "../../support/api.js";
import { runCli } from "../../support/cli.js";
import { dec } from "../../support/data.js";
import { startFaultProxy } from "../../support/fault-proxy.js";
import { retrieve } from "../../../src/storage/reads.js";
import { clusterUrl, forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;
const DAY = 86_400_000;
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const frameAt = (begin: number): DataFrame => ({
  begin,
  end: begin + 3_600_000,
  points: [{ type: "cpu", unit: "h", qty: dec(1), price: dec(1), groupby: { project_id: "p" }, metadata: {} }],
});
const indices = async (b: Backend) =>
  (
    await b.client.request<{ index: string }[]>({
      method: "GET",
      path: `/_cat/indices/${b.partitions.pattern}`,
      querystring: { format: "json", h: "index" },
    })
  ).body
    .map((r) => r.index)
    .sort();

forEachEngine("retention on a node without ISM: the service's sweeper", function () {
  this.timeout(60_000);
  let backend: Backend;
  const backfilled = Date.UTC(new Date().getUTCFullYear() - 2, 2, 10); // two years ago, pushed today
  const old = today - 10 * DAY;

  beforeEach(async () => {
    // Points past the retention are refused at push: the expired partitions are written while retention is off.
    const loader = await freshBackend({ partition: "day", retentionMechanism: "none" });
    const res = await loader.push([frameAt(backfilled), frameAt(old), frameAt(today - DAY), frameAt(today)]);
    expect(res.stored).to.equal(4);
    await loader.close();
    backend = await freshBackend({
      indexPrefix: loader.config.indexPrefix,
      partition: "day",
      retentionHours: 48,
      retentionMechanism: "auto",
      sweepGraceSeconds: 0,
    });
  });
  afterEach(async () => backend.drop());

  it("is chosen automatically when the cluster has no lifecycle engine, and says so", async () => {
    expect(backend.profile.lifecycle).to.equal("none");
    expect(backend.lifecycle.active).to.equal("sweeper");
    expect((await backend.health()).retention).to.equal("sweeper");
    const wanted = backend.profile.distribution === "opensearch" ? "ism" : "ilm";
    const strict = await freshBackend({ retentionMechanism: wanted }).catch((err: Error) => err);
    expect(strict).to.be.instanceOf(Error);
    expect((strict as Error).message).to.include(`RATESTORE_RETENTION_MECHANISM=${wanted} but this cluster's lifecycle engine is none`);
  });

  it("dates each partition by its data where the profile says the cluster can (creation_date = end of its period)", async () => {
    const name = backend.partitions.indexFor(backfilled);
    const res = await backend.client.request<Record<string, { settings: { index: { creation_date: string } } }>>({
      method: "GET",
      path: `/${name}/_settings`,
    });
    const created = Number(res.body[name]!.settings.index.creation_date);
    if (backend.profile.backdating === "creation_date") {
      expect(created).to.equal(backfilled - (backfilled % DAY) + DAY);
    } else {
      // Elasticsearch and OpenSearch 2 refuse index.creation_date: the partition is dated now, and retention goes by its name.
      expect(Math.abs(created - Date.now())).to.be.lessThan(600_000);
      expect(backend.lifecycle.sweeperNeeded).to.equal(true);
    }
  });

  it("deletes expired partitions, the backfilled one included, and keeps current ones", async () => {
    expect(await indices(backend)).to.have.length(4);
    const result = await backend.sweepRetention();
    expect(result.leader).to.equal(true);
    expect([...result.deleted].sort()).to.deep.equal([backend.partitions.indexFor(backfilled), backend.partitions.indexFor(old)].sort());
    expect(await indices(backend)).to.deep.equal([backend.partitions.indexFor(today - DAY), backend.partitions.indexFor(today)].sort());
    expect((await retrieve(backend, { begin: today - 30 * DAY, end: today + DAY, paginate: false })).total).to.equal(2);
  });

  it("makes its locks index with the partitions' replica settings, so a single-node cluster stays green", async () => {
    await backend.sweepRetention();
    const locks = `${backend.config.indexPrefix}-locks`;
    const res = await backend.client.request<
      Record<string, { settings: { index: { auto_expand_replicas?: string; number_of_replicas?: string } } }>
    >({ method: "GET", path: `/${locks}/_settings` });
    expect(res.body[locks]!.settings.index.auto_expand_replicas).to.equal("0-1");
    const health = await backend.client.request<{ status: string }>({
      method: "GET",
      path: `/_cluster/health/${locks}`,
      querystring: { wait_for_status: "green", timeout: "10s" },
    });
    expect(health.body.status).to.equal("green");
  });

  it("with several instances sweeping at once, one sweeps and each partition is deleted once", async () => {
    const others = await Promise.all([1, 2].map(() => freshBackend({ ...backend.config })));
    try {
      const results = await Promise.all([backend, ...others].map((b) => b.sweepRetention()));
      expect(results.filter((r) => r.leader)).to.have.length(1);
      expect(results.flatMap((r) => r.deleted)).to.have.length(2);
      // Once the lease has expired another instance takes over.
      const later = await others[0]!.sweepRetention(Date.now() + backend.config.sweepIntervalSeconds * 1000 + 1000);
      expect(later.leader).to.equal(true);
      expect(later.deleted).to.deep.equal([]);
    } finally {
      for (const o of others) await o.close();
    }
  });

  it("a sweep that outlasts its interval keeps the lease: three instances, each partition detached and deleted once", async () => {
    // Ten expired day partitions, and deletes made slow by a proxy (300 ms each), so that a sweep lasts
    // about three of its one-second intervals while the other instances keep trying.
    const loader = await freshBackend({ partition: "day", retentionMechanism: "none" });
    const days = Array.from({ length: 10 }, (_, k) => today - (20 + k) * DAY);
    expect((await loader.push(days.map(frameAt))).stored).to.equal(10);
    await loader.close();
    const proxy = await startFaultProxy(clusterUrl(), {
      bulk503: 0,
      bulkItems429: 0,
      delays: [{ path: "", method: "DELETE", when: "before", ms: 300, count: 1000 }],
    });
    const config = {
      ...backend.config,
      indexPrefix: loader.config.indexPrefix,
      sweepIntervalSeconds: 1,
      cluster: { ...backend.config.cluster, urls: [proxy.url] },
    };
    const instances = await Promise.all([0, 1, 2].map(() => freshBackend(config)));
    try {
      const sweeps: Promise<{ leader: boolean; deleted: readonly string[]; detached?: readonly string[] }>[] = [];
      // Each instance tries every 400 ms for 4 s, as their timers would.
      for (let t = 0; t < 10; t++) {
        for (const b of instances) sweeps.push(b.sweepRetention());
        await new Promise((r) => setTimeout(r, 400));
      }
      const results = await Promise.all(sweeps);
      const deleted = results.flatMap((r) => r.deleted);
      const expired = days.map((d) => instances[0]!.partitions.indexFor(d)).sort();
      expect([...deleted].sort()).to.deep.equal(expired);
      expect(results.flatMap((r) => r.detached ?? []).sort()).to.deep.equal(expired);
      const partitionDeletes = proxy.seen.requests.filter((r) => r.startsWith("DELETE ") && expired.some((e) => r === `DELETE /${e}`));
      expect(partitionDeletes).to.have.length(10);
    } finally {
      for (const b of instances) await b.close();
      await proxy.close();
    }
  });

  it("a period longer than its partition is kept until its own end is past the retention, whichever release wrote it", async () => {
    // A 2-day period over day partitions: it begins yesterday and ends tomorrow (retention 48 h here).
    const longPeriod = (begin: number): DataFrame => ({
      begin,
      end: today + DAY,
      points: [{ ...frameAt(begin).points[0]!, groupby: { project_id: "long" } }],
    });
    const long = longPeriod(today - DAY);
    const res = await backend.push([long]);
    expect(res.stored).to.equal(1);
    // Read right after the push, over the period: found (the read refreshes the partition it is in).
    const count = async (begin = today - 3 * DAY) =>
      (await retrieve(backend, { begin, end: today + 2 * DAY, groupFilters: { project_id: "long" }, paginate: false })).total;
    expect(await count(today - DAY)).to.equal(1);
    // As a release before this one stored it: in the partition of the period's begin.
    const legacy = longPeriod(today - 2 * DAY);
    const id = "legacy-long-period";
    const doc = documentJson(periodTexts(legacy), legacy.points[0]!, id);
    const bulk = `${JSON.stringify({ create: { _index: backend.partitions.indexFor(legacy.begin), _id: id } })}\n${doc}\n`;
    expect(
      (
        await backend.client.request<{ errors: boolean }>({
          method: "POST",
          path: "/_bulk",
          querystring: { refresh: "true" },
          bulkBody: bulk,
        })
      ).body.errors,
    ).to.equal(false);
    expect(await count()).to.equal(2);
    // Past both begin-partitions' expiry (yesterday's ends today, + 48 h), before the points' own (tomorrow + 48 h).
    await backend.sweepRetention(today + 2 * DAY + 3_600_000);
    expect(await count()).to.equal(2);
    // Past the points' own end + retention: gone.
    await backend.sweepRetention(today + 3 * DAY + 3_600_000);
    expect(await count()).to.equal(0);
  });

  it("a shorter retention after a restart deletes what the longer one kept", async () => {
    const longer = await freshBackend({ ...backend.config, retentionHours: 24 * 365 * 5 });
    // A partition that ended two days ago: past a 12-hour retention at any time of day (yesterday's
    // is only past it from noon UTC on, so it is not asserted).
    expect((await longer.push([frameAt(today - 3 * DAY)])).stored).to.equal(1);
    expect((await longer.sweepRetention()).deleted).to.deep.equal([]);
    await longer.close();
    const shorter = await freshBackend({ ...backend.config, retentionHours: 12 });
    const r = await shorter.sweepRetention(Date.now() + backend.config.sweepIntervalSeconds * 1000 + 1000);
    expect(r.deleted).to.include(backend.partitions.indexFor(today - 3 * DAY));
    expect(r.deleted).to.not.include(backend.partitions.indexFor(today));
    await shorter.close();
  });

  it("the partitions command shows period, documents, size, policy and deletion date", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ratestore-partitions-"));
    const env = {
      RATESTORE_CLUSTER_URL: clusterUrl(),
      RATESTORE_INDEX_PREFIX: backend.config.indexPrefix,
      RATESTORE_PARTITION: "day",
      RATESTORE_RETENTION_HOURS: "48",
    };
    const res = await runCli(["partitions", "--json"], env, dir);
    expect(res.code, res.stderr).to.equal(0);
    const rows = JSON.parse(res.stdout) as {
      index: string;
      periodStart: number;
      docs: number;
      bytes: number;
      policy: string;
      deletesAt: number;
    }[];
    const row = rows.find((r) => r.index === backend.partitions.indexFor(today))!;
    expect(row).to.include({ periodStart: today, docs: 1, policy: "sweeper", deletesAt: today + DAY + 48 * 3_600_000 });
    expect(row.bytes).to.be.greaterThan(0);
    const table = await runCli(["partitions"], env, dir);
    expect(table.stdout).to.match(/partition\s+period start\s+period end\s+docs\s+size\s+policy\s+state\s+out of reads/);
    const sweep = await runCli(["sweep"], env, dir);
    expect(JSON.parse(sweep.stdout)).to.deep.include({ leader: true });
  });

  it("/readyz names the active mechanism and shows the cluster profile it was chosen from", async () => {
    const api = await startApi({}, undefined, { retentionMechanism: "auto" });
    try {
      const ready = (await (await api.call("/readyz", { key: null })).json()) as {
        retention: { hours: number; mechanism: string };
        cluster: { profile: unknown };
      };
      expect(ready.retention).to.deep.equal({ hours: 2400, mechanism: "sweeper" });
      expect(ready.cluster.profile).to.deep.equal(api.backend.profile);
      expect(api.backend.profile).to.include({ lifecycle: "none" });
    } finally {
      await api.close();
    }
  });

  it("the policy files become policies with the configured retention", () => {
    expect(JSON.stringify(ismPolicyBody({ detachMs: 48 * 3_600_000, deleteMs: 48 * 3_600_000 + 90_000 }, "p-points")))
      .to.include('"min_index_age":"48h"')
      .and.include('"min_index_age":"172890s"');
    expect(JSON.stringify(ilmPolicyBody(48 * 3_600_000))).to.include('"delete":{"min_age":"48h"');
    expect(testStorageConfig().retentionHours).to.equal(2400);
  });
});
