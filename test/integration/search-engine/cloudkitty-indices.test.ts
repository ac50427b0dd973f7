import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { SearchEngineBackend } from "../../../src/storage/search-engine/backend.js";
import { startApi, type TestApi } from "../../support/api.js";
import { cliEnv, runCli, spawnCli } from "../../support/cli.js";
import { CloudKittyStorage } from "../../support/cloudkitty.js";
import { freshBackend, testLogger } from "../../support/cluster.js";
import { HOUR } from "../../support/data.js";
import { clusterUrl, forEachEngine } from "../../support/engines.js";

/**
 * Living beside CloudKitty's own indices. CloudKitty's own storage backend (cloudkitty 25.0.0 from PyPI:
 * OpenSearchStorage on OpenSearch, ElasticsearchStorage on Elasticsearch) pointed at ratestore's read
 * alias gets the same figures as ratestore's API.
 */

const B = Date.parse("2024-03-01T00:00:00Z");
const HOURS = 12;
const iso = (t: number) => new Date(t).toISOString();

/** Amounts that are sums of powers of two, so that CloudKitty's double sums are exact too and can be compared to the digit. */
function frames(): unknown[] {
  const out: unknown[] = [];
  for (let h = 0; h < HOURS; h++) {
    const usage: Record<string, unknown[]> = {};
    for (const type of ["cpu", "ram", "volume.size"]) {
      usage[type] = [];
      for (let p = 0; p < 6; p++) {
        for (let k = 0; k < 3; k++) {
          usage[type]!.push({
            vol: { unit: "u", qty: String(0.25 * (k + 1) + h) },
            rating: { price: String(1.5 * (p + 1) + 0.125 * k) },
            groupby: { project_id: `proj-${p}`, id: `${type}-${p}-${k}` },
            metadata: { flavor: `f${k}` },
          });
        }
      }
    }
    out.push({ period: { begin: iso(B + h * HOUR), end: iso(B + (h + 1) * HOUR) }, usage });
  }
  return out;
}

type Row = Record<string, string | number | null>;
const key = (r: Row, by: string[]) => by.map((k) => String(r[k])).join("|");

forEachEngine("CloudKitty indices: CloudKitty's own backend reads ratestore's partitions", function () {
  this.timeout(600_000);
  let api: TestApi;
  let ck: CloudKittyStorage;
  const window = { begin: iso(B), end: iso(B + HOURS * HOUR) };

  before(async () => {
    api = await startApi();
    // CloudKitty reads the partitions itself, not through the API: refresh=true makes the push visible to it at once.
    const res = await api.call("/v2/dataframes?refresh=true", { json: { dataframes: frames() } });
    expect(res.status).to.equal(204);
    // Its init() would write CloudKitty's mapping document into the index: reading needs none of it.
    ck = await CloudKittyStorage.open(api.backend.profile.distribution, clusterUrl().split(",")[0]!, api.backend.partitions.alias, false);
  });
  after(async () => {
    ck?.close();
    await api?.close();
  });

  for (const groupby of [["project_id", "type"], ["type"], ["project_id"], []]) {
    it(`total(groupby=${JSON.stringify(groupby)}) equals /v2/summary, group by group`, async () => {
      const theirs = await ck.call<{ total: number; results: Row[] }>({ op: "total", ...window, groupby: groupby.length ? groupby : null });
      const q = new URLSearchParams({ ...window, paginate: "false", response_format: "object" });
      for (const g of groupby) q.append("groupby", g);
      const ours = (await (await api.call(`/v2/summary?${q}`)).json()) as { total: number; results: Row[] };
      expect(theirs.results.length, "groups").to.equal(ours.results.length);
      expect(theirs.results.length).to.equal(groupby.length === 0 ? 1 : groupby.reduce((n, g) => n * (g === "type" ? 3 : 6), 1));
      const mine = new Map(ours.results.map((r) => [key(r, groupby), r]));
      for (const row of theirs.results) {
        const match = mine.get(key(row, groupby));
        expect(match, `group ${key(row, groupby)}`).to.not.equal(undefined);
        expect(Number(row.qty), `qty of ${key(row, groupby)}`).to.equal(Number(match!.qty));
        expect(Number(row.rate), `rate of ${key(row, groupby)}`).to.equal(Number(match!.rate));
      }
    });
  }

  it("retrieve() returns every point, as /v2/dataframes counts them", async () => {
    const theirs = await ck.call<{ total: number; points: number }>({ op: "retrieve", ...window });
    const ours = (await (await api.call(`/v2/dataframes?${new URLSearchParams({ ...window, limit: "1" })}`)).json()) as { total: number };
    expect(theirs.points).to.equal(HOURS * 3 * 6 * 3);
    expect(theirs.total).to.equal(ours.total);
  });
});

/** 5,184 points over two days: 3 types, 6 projects, 12 resources, hourly, amounts with 9 decimals. */
function sourceFrames(): { lines: string; exact: Map<string, { qty: bigint; price: bigint }>; points: number } {
  const exact = new Map<string, { qty: bigint; price: bigint }>();
  const lines: string[] = [];
  let points = 0;
  const start = Date.parse("2024-05-01T12:00:00Z");
  for (let h = 0; h < 24; h++) {
    const usage: Record<string, unknown[]> = {};
    for (const [t, type] of ["cpu", "ram", "volume.size"].entries()) {
      usage[type] = [];
      for (let p = 0; p < 6; p++) {
        for (let r = 0; r < 12; r++) {
          // Nine decimals, distinct per point: qty 1.000000001 to ~3.3, price to ~0.03.
          const qtyNanos = 1_000_000_000n + BigInt((h * 7919 + t * 104729 + p * 1299709 + r * 15485863) % 2_300_000_000);
          const priceNanos = BigInt((h * 31 + t * 17 + p * 13 + r * 7) * 123_457);
          const fmt = (n: bigint) => `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, "0")}`;
          usage[type]!.push({
            vol: { unit: "u", qty: fmt(qtyNanos) },
            rating: { price: fmt(priceNanos) },
            groupby: { project_id: `project-${p}`, id: `${type}-${p}-${r}` },
            metadata: { flavor: `m${r % 3}` },
          });
          const key = `${type}|project-${p}`;
          const g = exact.get(key) ?? { qty: 0n, price: 0n };
          g.qty += qtyNanos;
          g.price += priceNanos;
          exact.set(key, g);
          points++;
        }
      }
    }
    lines.push(JSON.stringify({ period: { begin: iso(start + h * HOUR), end: iso(start + (h + 1) * HOUR) }, usage }));
  }
  return { lines: lines.join("\n") + "\n", exact, points };
}

forEachEngine("CloudKitty indices: ratestore migrate", function () {
  this.timeout(900_000);
  const url = () => clusterUrl().split(",")[0]!;
  const data = sourceFrames();
  let index: string;
  let dir: string;
  let ck: CloudKittyStorage;

  let mappingDocuments = 0;

  before(async function () {
    const profile = await freshBackendProfile();
    if (profile.distribution === "elasticsearch" && Number(profile.version.split(".")[0]) >= 8) {
      // CloudKitty 25.0.0's Elasticsearch backend writes with the typed APIs that Elasticsearch 8 removed
      // (PUT /<index>/_mapping/_doc, POST /<index>/_doc/_bulk): no CloudKitty index can exist there.
      this.skip();
    }
    // CloudKitty's OpenSearch backend stores its mapping as a document; its Elasticsearch backend applies it.
    mappingDocuments = profile.distribution === "opensearch" ? 1 : 0;
    dir = mkdtempSync(join(tmpdir(), "ratestore-migrate-"));
    writeFileSync(join(dir, "source.ndjson"), data.lines);
    index = `ck-${randomBytes(4).toString("hex")}`;
    // The source is written by CloudKitty's own backend, on its own index, as a CloudKitty deployment has it.
    expect((await fetch(`${url()}/${index}`, { method: "PUT" })).status).to.equal(200);
    ck = await CloudKittyStorage.open(profile.distribution, url(), index, true);
    expect(await ck.call({ op: "push", path: join(dir, "source.ndjson") })).to.deep.equal({ points: data.points });
    await fetch(`${url()}/${index}/_refresh`, { method: "POST" });
  });
  after(async () => {
    ck?.close();
    if (index) await fetch(`${url()}/${index}`, { method: "DELETE" });
  });

  async function summaryOf(api: TestApi): Promise<Map<string, { qty: bigint; price: bigint }>> {
    const q = new URLSearchParams({
      begin: "2024-05-01T00:00:00Z",
      end: "2024-05-03T00:00:00Z",
      paginate: "false",
      response_format: "object",
    });
    q.append("groupby", "type");
    q.append("groupby", "project_id");
    const res = await api.call(`/v2/summary?${q}`);
    // Exact decimals on the wire: read the literals, not doubles.
    const text = await res.text();
    const rows = JSON.parse(text.replace(/"(qty|rate)":(-?[0-9.eE+-]+)/g, '"$1":"$2"')) as {
      results: { type: string; project_id: string; qty: string; rate: string }[];
    };
    return new Map(rows.results.map((r) => [`${r.type}|${r.project_id}`, { qty: nanos(r.qty), price: nanos(r.rate) }]));
  }

  it("copies every point exactly: /v2/summary equals the source's _source sums for every (type, project_id), and CloudKitty's total() to the precision of its index", async () => {
    const api = await startApi();
    try {
      const env = cliEnv(api.backend.config.indexPrefix);
      const res = await runCli(["migrate", "--from", url(), "--index", index, "--no-progress"], env, dir);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stderr).to.include(`${mappingDocuments} CloudKitty mapping documents skipped`);
      expect(res.stderr).to.include(`verify: 18 (type, project_id) groups, ${data.points} source points, 0 differences`);
      const ours = await summaryOf(api);
      expect(ours.size).to.equal(18);
      for (const [key, exact] of data.exact) expect(ours.get(key), key).to.deep.equal(exact);
      const theirs = await ck.call<{ results: { type: string; project_id: string; qty: string; rate: string }[] }>({
        op: "total",
        begin: "2024-05-01T00:00:00Z",
        end: "2024-05-03T00:00:00Z",
        groupby: ["type", "project_id"],
      });
      expect(theirs.results).to.have.length(18);
      // CloudKitty sums what its index holds: its init() stores its mapping as a document instead of
      // applying it, so qty and price were mapped dynamically as `float` (32 bits). Its figures are the
      // exact ones to float precision; ours are the exact ones.
      const mapping = (await (await fetch(`${url()}/${index}/_mapping/field/qty,price`)).json()) as Record<
        string,
        { mappings: Record<string, { mapping: Record<string, { type: string }> }> }
      >;
      const sourceTypes = Object.values(mapping[index]!.mappings).map((m) => Object.values(m.mapping)[0]!.type);
      let worst = 0;
      for (const row of theirs.results) {
        const mine = ours.get(`${row.type}|${row.project_id}`)!;
        for (const [theirsValue, oursValue] of [
          [Number(row.qty), Number(mine.qty) / 1e9],
          [Number(row.rate), Number(mine.price) / 1e9],
        ] as const) {
          const relative = Math.abs(theirsValue - oursValue) / Math.max(Math.abs(oursValue), 1e-9);
          worst = Math.max(worst, relative);
          expect(relative, `${row.type}|${row.project_id}: CloudKitty ${theirsValue}, ratestore ${oursValue}`).to.be.lessThan(
            sourceTypes.includes("float") ? 1e-6 : 1e-12,
          );
        }
      }
      console.log(
        `      CloudKitty's total() on its own index (qty/price mapped as ${sourceTypes.join("/")}) is off the exact sums by at most ${worst.toExponential(2)} (relative)`,
      );
    } finally {
      await api.close();
    }
  });

  it("killed with SIGKILL part-way, run again: the count and sums are exact; a third run stores nothing", async () => {
    const api = await startApi();
    try {
      const env = cliEnv(api.backend.config.indexPrefix);
      const args = [
        "migrate",
        "--from",
        url(),
        "--index",
        index,
        "--no-progress",
        "--batch-points",
        "100",
        "--checkpoint",
        "crash.checkpoint.json",
        "--rejects",
        "crash.rejects.ndjson",
      ];
      const child = spawnCli(args, env, dir);
      // Kill it once some points are in and some are not.
      const countUrl = `${url()}/${api.backend.partitions.alias}/_count`;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        await fetch(`${url()}/${api.backend.partitions.alias}/_refresh`, { method: "POST" });
        const count = ((await (await fetch(countUrl)).json()) as { count?: number }).count ?? 0;
        if (count > 500) break;
        expect(child.exitCode, "the migration ended before it could be killed").to.equal(null);
      }
      child.kill("SIGKILL");
      await new Promise((r) => child.once("close", r));
      await fetch(`${url()}/${api.backend.partitions.alias}/_refresh`, { method: "POST" });
      const partial = ((await (await fetch(countUrl)).json()) as { count: number }).count;
      expect(partial).to.be.lessThan(data.points);
      const again = await runCli(args, env, dir);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stderr).to.include("0 differences");
      const ours = await summaryOf(api);
      for (const [key, exact] of data.exact) expect(ours.get(key), key).to.deep.equal(exact);
      expect(((await (await fetch(countUrl)).json()) as { count: number }).count).to.equal(data.points);
      const third = await runCli([...args, "--restart"], env, dir);
      expect(third.code, third.stderr).to.equal(0);
      const summary = (JSON.parse(third.stdout.split("\n")[0]!) as { migrate: { stored: number; duplicates: number } }).migrate;
      expect(summary).to.deep.include({ stored: 0, duplicates: data.points });
      console.log(
        `      killed after ${partial} of ${data.points} points were stored; the second run completed them, the third stored 0 (${summary.duplicates} already stored)`,
      );
    } finally {
      await api.close();
    }
  });

  it('a document that cannot be stored exactly (more than 9 decimals, a label key "__proto__") goes to the reject file, and the verification names its group and exits 3', async () => {
    const bad = `${index}-bad`;
    await fetch(`${url()}/${bad}`, { method: "PUT" });
    try {
      const doc = (qty: unknown) => ({
        start: "2024-05-01T00:00:00+00:00",
        end: "2024-05-01T01:00:00+00:00",
        type: "cpu",
        unit: "u",
        qty,
        price: 1,
        groupby: { project_id: "p-bad" },
        metadata: {},
      });
      // A label key "__proto__" (CloudKitty checks none) is refused like any other document that cannot be
      // stored as it is, and does not stop the copy of the rest.
      const proto = { ...doc(2), groupby: { project_id: "p-bad", ["__proto__"]: "x" } };
      const body = [doc(1.5), doc(0.1234567891), proto].map((d) => `{"index":{}}\n${JSON.stringify(d)}\n`).join("");
      await fetch(`${url()}/${bad}/_bulk?refresh=true`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body });
      const api = await startApi();
      try {
        const env = cliEnv(api.backend.config.indexPrefix);
        const res = await runCli(
          ["migrate", "--from", url(), "--index", bad, "--no-progress", "--checkpoint", "bad.json", "--rejects", "bad.rejects.ndjson"],
          env,
          dir,
        );
        expect(res.code, res.stderr).to.equal(3);
        expect(res.stderr).to.match(/DIFFERENCE type=cpu project_id=p-bad: source qty 1.5 price 1 \(2 source documents not stored/);
        const rejects = readFileSync(join(dir, "bad.rejects.ndjson"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { reason: string; document: { qty: number } });
        expect(rejects).to.have.length(2);
        const decimals = rejects.find((r) => r.document.qty !== 2)!;
        expect(decimals.reason).to.match(/^qty: has more than 9 decimal places/);
        expect(decimals.document.qty).to.equal(0.1234567891);
        // The reject file keeps the document as the cluster returned it, the "__proto__" key included.
        const reserved = rejects.find((r) => r.document.qty === 2)!;
        expect(reserved.reason).to.equal('usage.cpu[0].groupby.__proto__: "__proto__" is a reserved name and cannot be a key');
        expect(Object.keys((reserved.document as unknown as { groupby: object }).groupby)).to.deep.equal(["project_id", "__proto__"]);
      } finally {
        await api.close();
      }
    } finally {
      await fetch(`${url()}/${bad}`, { method: "DELETE" });
    }
  });

  it("the service refuses a read alias that includes the CloudKitty index: start-up and /readyz name it and point to ratestore migrate", async () => {
    const api = await startApi();
    try {
      await fetch(`${url()}/_aliases`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ actions: [{ add: { index, alias: api.backend.partitions.alias } }] }),
      });
      const ready = await api.call("/readyz", { key: null });
      expect(ready.status).to.equal(503);
      const body = (await ready.json()) as { problems: string[] };
      expect(body.problems.join(" "))
        .to.include(`includes ${index}, which ratestore did not write`)
        .and.to.include(`ratestore migrate --from <cluster url> --index ${index}`);
      const second = new SearchEngineBackend(api.backend.config, testLogger);
      const err = await second.init().catch((e: Error) => e);
      await second.close();
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.include(`includes ${index}`);
    } finally {
      await fetch(`${url()}/_aliases`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ actions: [{ remove: { index, alias: api.backend.partitions.alias } }] }),
      });
      await api.close();
    }
  });
});

const nanos = (text: string): bigint => {
  const [whole = "0", frac = ""] = text.split(".");
  const negative = whole.startsWith("-");
  const n = BigInt(whole.replace("-", "")) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
  return negative ? -n : n;
};

async function freshBackendProfile() {
  const b = await freshBackend();
  try {
    return b.profile;
  } finally {
    await b.drop();
  }
}
