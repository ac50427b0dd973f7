import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loadConfig, type StorageConfig } from "../../../src/config.js";
import type { DataFrame } from "../../../src/storage/dataframe.js";
import { startApi, type TestApi } from "../../support/api.js";
import { runCli } from "../../support/cli.js";
import { freshBackend } from "../../support/cluster.js";
import { dec } from "../../support/data.js";
import { OwnNode } from "../../support/node.js";
import { total } from "../../../src/storage/reads.js";

/**
 * Retention by the real ISM plugin on OpenSearch 2.19.4 (job-scheduler from Maven Central, ISM built
 * from its public source: ../shared/plugins/README.md), a node of this suite's own. ISM runs its jobs
 * once a minute here (job_interval 1, no jitter), so a partition is taken out of the alias and deleted
 * within minutes of its due time; the suite sets every scenario up first and then watches them all at
 * once. OpenSearch 2 cannot date a partition by its data, which is what this suite is for.
 */

const ISM_ZIP = process.env.RATESTORE_ISM_PLUGIN_ZIP;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ISM_VERSION = "2.19.4";

type Backend = Awaited<ReturnType<typeof freshBackend>>;

const frame = (begin: number, end: number, project: string, qty: number): DataFrame => ({
  begin,
  end,
  points: [{ type: "cpu", unit: "h", qty: dec(qty), price: dec(1), groupby: { project_id: project }, metadata: {} }],
});

/** The `qty` of an ungrouped summary over HTTP, with its status. */
async function summaryQty(api: TestApi, begin: number, end: number): Promise<{ status: number; qty?: number }> {
  const res = await api.call(`/v2/summary?begin=${new Date(begin).toISOString()}&end=${new Date(end).toISOString()}`);
  if (res.status !== 200) return { status: res.status };
  const body = (await res.json()) as { columns: string[]; results: unknown[][] };
  const at = body.columns.indexOf("qty");
  return { status: 200, qty: Number(body.results[0]?.[at] ?? 0) };
}

/** Waits until ISM has run a partition's policy once (its first job run after the policy was attached). */
async function initialised(b: Backend, index: string): Promise<void> {
  for (;;) {
    const e = await b.client.request<Record<string, { state?: { name?: string } }>>({
      method: "GET",
      path: `/_plugins/_ism/explain/${index}`,
    });
    if (e.body[index]?.state?.name) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

(ISM_ZIP ? describe : describe.skip)(`retention by the real ISM plugin [opensearch ${ISM_VERSION} with ISM, own node]`, function () {
  this.timeout(20 * MIN);
  // Its own port beside the shared test node's (the shared node's URL is set only once the global setup ran).
  const node = new OwnNode(Number(process.env.RATESTORE_TEST_OS_PORT ?? 9250) + 50, [], {
    RATESTORE_ENGINE: "opensearch",
    RATESTORE_ENGINE_VERSION: ISM_VERSION,
    RATESTORE_ENGINE_HEAP: "512m",
    RATESTORE_ISM_PLUGIN_ZIP: ISM_ZIP ?? "",
    RATESTORE_ENGINE_SETTINGS: "plugins.index_state_management.job_interval=1 plugins.index_state_management.jitter=0.0",
  });
  const cluster = () => loadConfig({ RATESTORE_CLUSTER_URL: node.url }).storage.cluster;
  const on = (overrides: Partial<StorageConfig>) =>
    freshBackend({ cluster: cluster(), retentionMechanism: "auto", sweepGraceSeconds: 30, ...overrides });
  // Taken when the suite starts, not when mocha loads the file: a long run starts it much later.
  let now = 0;
  let today = 0;
  let monthStart = 0;
  let lastMonth = 0;
  const backends: Backend[] = [];
  /** Retentions that make a partition ending at `end` due a few minutes from now. */
  const dueIn = (end: number, ms: number) => now + ms - end;

  before(async function () {
    now = Date.now();
    today = now - (now % DAY);
    monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    lastMonth = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() - 1, 1);
    node.start();
    for (const b of backends) await b.drop();
  });
  after(async () => {
    // Cleanup never holds the run: a drop that has not finished in a minute is reported and left.
    for (const b of backends) {
      const late = new Promise<string>((r) => setTimeout(() => r("late"), 60_000).unref());
      const outcome = await Promise.race([
        b.drop().then(
          () => "dropped",
          (e: unknown) => `failed: ${String(e)}`,
        ),
        late,
      ]);
      if (outcome !== "dropped") console.log(`      cleanup of ${b.config.indexPrefix}: ${outcome}`);
    }
    node.stop();
  });

  it("is the mechanism chosen on a cluster with ISM, its partitions dated by creation (the cluster cannot back-date them)", async () => {
    const b = await on({ partition: "day" });
    backends.push(b);
    expect(b.profile).to.include({ distribution: "opensearch", version: ISM_VERSION, lifecycle: "ism", backdating: "none" });
    expect(b.lifecycle.active).to.equal("ism");
    expect(b.lifecycle.sweeperNeeded).to.equal(false);
    expect((await b.health()).retention).to.equal("ism");
  });

  describe("watched over several ISM job runs", function () {
    // Short retentions (minutes) stand in for production's days; the ages ISM is given are the same
    // arithmetic either way: from the creation date the cluster recorded to the period's end + retention.
    const short = 2 * MIN;
    let insideDay: Backend; // today's day partition, retention 2 min: due tomorrow + 2 min
    let insideMonth: Backend; // this month's partition, retention 2 min: due next month + 2 min
    let dueDay: Backend; // yesterday's day partition (written now, as backfill), due in 3 min
    let dueMonth: Backend; // last month's partition (backfill), due in 3 min, once its retention is shortened
    let upgraded: Backend; // today's partition under the shared policy of the release before, which deleted it 2 min after creation
    let api: TestApi;
    const reads: { at: number; status: number; qty?: number }[] = [];
    let dueDayAt = 0;
    let dueMonthAt = 0;

    before(async function () {
      // The release before gave OpenSearch 2 one shared policy aged from creation (here 2 min): a
      // partition it manages, initialised by ISM, is moved onto its own policy by this release's start.
      const before = await on({ partition: "day", retentionMechanism: "none" });
      backends.push(before);
      expect((await before.push([frame(today, today + HOUR, "p", 1)])).stored).to.equal(1);
      const shared = `${before.config.indexPrefix}-retention`;
      await before.client.request({
        method: "PUT",
        path: `/_plugins/_ism/policies/${shared}`,
        body: {
          policy: {
            description: "ratestore retention [ratestore policy v1, retention 2m]",
            default_state: "hold",
            states: [
              { name: "hold", actions: [], transitions: [{ state_name: "delete", conditions: { min_index_age: "2m" } }] },
              { name: "delete", actions: [{ delete: {} }], transitions: [] },
            ],
          },
        },
      });
      await before.client.request({
        method: "POST",
        path: `/_plugins/_ism/add/${before.partitions.indexFor(today)}`,
        body: { policy_id: shared },
      });

      insideDay = await on({ partition: "day", retentionHours: short / HOUR });
      insideMonth = await on({ partition: "month", retentionHours: short / HOUR });
      backends.push(insideDay, insideMonth);
      // Each acknowledged; every point ends in the future or within minutes, so each is inside its retention.
      expect((await insideDay.push([frame(today, today + HOUR, "p", 1), frame(today + 23 * HOUR, today + DAY, "p", 2)])).stored).to.equal(
        2,
      );
      expect(
        (
          await insideMonth.push([
            frame(monthStart, monthStart + HOUR, "p", 1),
            frame(now - (now % HOUR), now - (now % HOUR) + HOUR, "p", 2),
          ])
        ).stored,
      ).to.equal(2);

      dueDayAt = today + dueIn(today, 3 * MIN);
      dueDay = await on({ partition: "day", retentionHours: dueIn(today, 3 * MIN) / HOUR });
      backends.push(dueDay);
      expect(
        (
          await dueDay.push([
            frame(today - DAY, today - DAY + HOUR, "p", 3),
            frame(today - HOUR, today, "p", 4),
            frame(today, today + HOUR, "p", 5),
          ])
        ).stored,
      ).to.equal(3);

      // Last month's partition, first written under a long retention, then the retention shortened.
      const loader = await on({ partition: "month", retentionHours: 24 * 400 });
      backends.push(loader);
      expect(
        (await loader.push([frame(lastMonth, lastMonth + HOUR, "p", 6), frame(monthStart - HOUR, monthStart, "p", 7)])).stored,
      ).to.equal(2);
      // The retention changes once ISM runs the partition's policy, as it does long before an operator changes it.
      await initialised(loader, loader.partitions.indexFor(lastMonth));
      await loader.close();
      dueMonthAt = monthStart + dueIn(monthStart, 3 * MIN);
      dueMonth = await on({
        partition: "month",
        indexPrefix: loader.config.indexPrefix,
        retentionHours: dueIn(monthStart, 3 * MIN) / HOUR,
      });
      backends.push(dueMonth);

      // Once ISM has initialised the old policy on it, as on a cluster that ran the release before.
      await initialised(before, before.partitions.indexFor(today));
      upgraded = await on({ partition: "day", indexPrefix: before.config.indexPrefix, retentionHours: short / HOUR });
      backends.push(upgraded);

      // A second instance of dueDay's service (same configuration), serving the reads watched below.
      api = await startApi({}, undefined, { ...dueDay.config, cluster: cluster() });
    });
    after(async () => api?.close());

    it("puts every partition under its own policy, backfilled ones included, aged to its period's end + retention", async () => {
      for (const b of [insideDay, insideMonth, dueDay, dueMonth]) {
        const explain = await b.client.request<Record<string, { policy_id?: string; index_creation_date?: number } | number>>({
          method: "GET",
          path: `/_plugins/_ism/explain/${b.partitions.pattern}`,
        });
        const partitions = Object.entries(explain.body).filter(([k]) => k.startsWith(b.partitions.alias));
        expect(partitions.length).to.be.greaterThan(0);
        for (const [index, e] of partitions) {
          expect((e as { policy_id?: string }).policy_id, index).to.equal(
            `${b.lifecycle.policyId}-${index.slice(b.partitions.alias.length + 1)}`,
          );
        }
      }
      const rows = await dueDay.describePartitions();
      const yesterday = rows.find((r) => r.index === dueDay.partitions.indexFor(today - DAY))!;
      expect(yesterday.policy).to.equal(`${dueDay.lifecycle.policyId}-${yesterday.index.slice(dueDay.partitions.alias.length + 1)}`);
      // What ISM will do, read back from its policy and the creation date it counts from: the period's end + retention.
      expect(Math.abs(yesterday.deletesAt! - dueDayAt)).to.be.lessThan(1000);
      const month = (await dueMonth.describePartitions()).find((r) => r.index === dueMonth.partitions.indexFor(lastMonth))!;
      expect(Math.abs(month.deletesAt! - dueMonthAt), "the shortened retention rewrote the policy").to.be.lessThan(1000);
    });

    it("deletes no partition before its newest point is past its end + retention, day and month, and each once due; reads never fail or count part of one", async () => {
      const expectedBefore = 3 + 4 + 5;
      const expectedAfter = 5;
      const stopAt = Math.max(dueDayAt, dueMonthAt) + 7 * MIN;
      const gone = new Map<string, number>();
      const watched = [
        { b: insideDay, index: insideDay.partitions.indexFor(today), dueAt: Infinity },
        { b: insideMonth, index: insideMonth.partitions.indexFor(now), dueAt: Infinity },
        { b: dueDay, index: dueDay.partitions.indexFor(today - DAY), dueAt: dueDayAt },
        { b: dueDay, index: dueDay.partitions.indexFor(today), dueAt: Infinity },
        { b: dueMonth, index: dueMonth.partitions.indexFor(lastMonth), dueAt: dueMonthAt },
        { b: upgraded, index: upgraded.partitions.indexFor(today), dueAt: Infinity },
      ];
      while (Date.now() < stopAt && gone.size < 2) {
        const read = await summaryQty(api, today - DAY, today + DAY);
        reads.push({ at: Date.now(), ...read });
        for (const w of watched) {
          if (gone.has(w.index)) continue;
          const exists = await w.b.client.request({ method: "HEAD", path: `/${w.index}` }, [404]);
          if (exists.status === 404) gone.set(w.index, Date.now());
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      for (const w of watched) {
        const at = gone.get(w.index);
        if (w.dueAt === Infinity) expect(at, `${w.index} is inside its retention and was deleted`).to.equal(undefined);
        else {
          expect(
            at,
            `${w.index} was due at ${new Date(w.dueAt).toISOString()} and ISM had not deleted it by ${new Date(stopAt).toISOString()}`,
          ).to.not.equal(undefined);
          expect(at!).to.be.at.least(w.dueAt);
        }
      }
      // The points inside their retention are all still there.
      expect((await total(insideDay, { begin: today, end: today + DAY })).results[0]!.qty).to.equal(dec(3));
      expect((await total(insideMonth, { begin: monthStart, end: monthStart + 32 * DAY })).results[0]!.qty).to.equal(dec(3));
      // Every read answered, and each counted yesterday's partition whole or not at all.
      expect(
        reads.filter((r) => r.status !== 200),
        JSON.stringify(reads.filter((r) => r.status !== 200)),
      ).to.deep.equal([]);
      expect([...new Set(reads.map((r) => r.qty))].sort((a, b) => a! - b!)).to.deep.equal([expectedAfter, expectedBefore]);
      // Yesterday's points left the reads once their retention passed, not before, and before the partition was deleted.
      expect(reads.filter((r) => r.qty === expectedAfter).every((r) => r.at >= dueDayAt)).to.equal(true);
      expect(
        reads.filter((r) => r.qty === expectedBefore).every((r) => r.at <= gone.get(dueDay.partitions.indexFor(today - DAY))!),
      ).to.equal(true);
    });

    it("moved the partition of the release before onto its own policy and removed the shared one", async () => {
      const index = upgraded.partitions.indexFor(today);
      const e = await upgraded.client.request<Record<string, { policy_id?: string }>>({
        method: "GET",
        path: `/_plugins/_ism/explain/${index}`,
      });
      expect(e.body[index]?.policy_id).to.equal(`${upgraded.lifecycle.policyId}-${index.slice(upgraded.partitions.alias.length + 1)}`);
      expect(
        (await upgraded.client.request({ method: "GET", path: `/_plugins/_ism/policies/${upgraded.lifecycle.policyId}` }, [404])).status,
      ).to.equal(404);
      expect((await total(upgraded, { begin: today, end: today + DAY })).results[0]!.qty).to.equal(dec(1));
    });

    it("removes the policy of a partition ISM deleted once the next partition is created", async () => {
      const deleted = dueDay.partitions.indexFor(today - DAY);
      const policy = `${dueDay.lifecycle.policyId}-${deleted.slice(dueDay.partitions.alias.length + 1)}`;
      expect((await dueDay.push([frame(today + DAY, today + DAY + HOUR, "p", 1)])).stored).to.equal(1);
      const res = await dueDay.client.request({ method: "GET", path: `/_plugins/_ism/policies/${policy}` }, [404]);
      expect(res.status).to.equal(404);
    });
  });

  it("the partitions command shows each partition's ISM policy, state and when ISM takes it out of reads", async () => {
    const b = await on({ partition: "day", retentionHours: 48 });
    backends.push(b);
    expect((await b.push([frame(today, today + HOUR, "p", 1)])).stored).to.equal(1);
    const dir = mkdtempSync(join(tmpdir(), "ratestore-partitions-"));
    const env = {
      RATESTORE_CLUSTER_URL: node.url,
      RATESTORE_INDEX_PREFIX: b.config.indexPrefix,
      RATESTORE_PARTITION: "day",
      RATESTORE_RETENTION_HOURS: "48",
      RATESTORE_SWEEP_GRACE_SECONDS: "60",
    };
    const res = await runCli(["partitions", "--json"], env, dir);
    expect(res.code, res.stderr).to.equal(0);
    const rows = JSON.parse(res.stdout) as { index: string; policy: string; state?: string; deletesAt: number }[];
    const row = rows.find((r) => r.index === b.partitions.indexFor(today))!;
    expect(row.policy).to.equal(`${b.lifecycle.policyId}-${row.index.slice(b.partitions.alias.length + 1)}`);
    expect(row.state).to.be.oneOf(["initialising", "hold"]);
    expect(Math.abs(row.deletesAt - (today + DAY + 48 * HOUR))).to.be.lessThan(1000);
    const table = await runCli(["partitions"], env, dir);
    expect(table.stdout).to.match(/partition\s+period start\s+period end\s+docs\s+size\s+policy\s+state\s+out of reads/);
  });
});
