import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { expect } from "chai";
import { generateFrames, DEFAULT_GENERATE } from "../../../src/cli/generate.js";
import { ADMIN_KEY, startApi } from "../../support/api.js";
import { cliEnv, runCli, spawnCli } from "../../support/cli.js";
import { freshBackend } from "../../support/cluster.js";
import { total } from "../../../src/storage/reads.js";
import { onDefaultEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof freshBackend>>;

const count = async (b: Backend) => {
  await b.client.request({ method: "POST", path: `/${b.partitions.alias}/_refresh` }, [404]);
  const res = await b.client.request<{ count: number }>({ method: "GET", path: `/${b.partitions.alias}/_count` }, [404]);
  return res.status === 404 ? 0 : res.body.count;
};
const envFor = (b: Backend) => cliEnv(b.config.indexPrefix);
const ndjson = (points: number, seed = 1) =>
  [...generateFrames({ ...DEFAULT_GENERATE, points, seed })].map((f) => JSON.stringify(f)).join("\n") + "\n";

onDefaultEngine("CLI: ingest", function () {
  this.timeout(300_000);
  let backend: Backend;
  let dir: string;
  beforeEach(async () => {
    backend = await freshBackend();
    dir = mkdtempSync(join(tmpdir(), "ratestore-ingest-"));
  });
  afterEach(async () => backend.drop());

  it("generate writes NDJSON.gz that ingest stores exactly", async () => {
    const gen = await runCli(["generate", "--points", "30000", "--projects", "5", "--out", "gen.ndjson.gz"], {}, dir);
    expect(gen.code, gen.stderr).to.equal(0);
    const res = await runCli(["ingest", "gen.ndjson.gz", "--no-progress"], envFor(backend), dir);
    expect(res.code, res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout)).to.include({ points: 30000, stored: 30000, rejectedPoints: 0, invalidRecords: 0 });
    expect(await count(backend)).to.equal(30000);
    // Without --start the data ends with the current period: 300 hourly periods (12.5 days) up to now.
    const byProject = await total(backend, { begin: Date.now() - 13 * 86_400_000, end: Date.now() + 3_600_000, groupby: ["project_id"] });
    expect(byProject.total).to.equal(5);
  });

  it("with retention on, lists the points past the retention in its rejects and stores the others", async () => {
    const now = new Date();
    const recent = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const lines = [
      ...[...generateFrames({ ...DEFAULT_GENERATE, points: 200 })].map((f) => JSON.stringify(f)), // dated 2024: expired under 2400 h
      ...[...generateFrames({ ...DEFAULT_GENERATE, points: 200, start: recent })].map((f) => JSON.stringify(f)),
    ];
    writeFileSync(join(dir, "mixed-age.ndjson"), lines.join("\n") + "\n");
    const res = await runCli(
      ["ingest", "mixed-age.ndjson", "--no-progress"],
      { ...envFor(backend), RATESTORE_RETENTION_MECHANISM: "auto" },
      dir,
    );
    expect(res.code).to.equal(2);
    expect(JSON.parse(res.stdout)).to.include({ points: 400, stored: 200, rejectedPoints: 200 });
    const rejects = readFileSync(join(dir, "ratestore-rejects.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; status: number; reason: string });
    expect(rejects).to.have.length(200);
    expect(new Set(rejects.map((r) => r.line))).to.deep.equal(new Set([1]));
    expect(rejects[0]!.status).to.equal(422);
    expect(rejects[0]!.reason).to.match(/past the retention of 2400 h/);
    expect(await count(backend)).to.equal(200);
  });

  it("reads a JSON list, {dataframes: [...]}, a saved page of GET /v2/dataframes and stdin alike, and says which each was", async () => {
    const frames = [...generateFrames({ ...DEFAULT_GENERATE, points: 800 })];
    expect(frames).to.have.length(4);
    writeFileSync(join(dir, "list.json"), JSON.stringify(frames.slice(0, 1)));
    writeFileSync(join(dir, "wrapped.json.gz"), gzipSync(JSON.stringify({ dataframes: frames.slice(1, 2) }, null, 2)));
    // What the API and CloudKitty answer: the list is not the first key.
    writeFileSync(join(dir, "page.json"), JSON.stringify({ total: 200, dataframes: frames.slice(3, 4) }, null, 2));
    const res = await runCli(
      ["ingest", "list.json", "wrapped.json.gz", "page.json", "-", "--no-progress"],
      envFor(backend),
      dir,
      JSON.stringify(frames[2]) + "\n",
    );
    expect(res.code, res.stderr).to.equal(0);
    const summary = JSON.parse(res.stdout) as { formats: Record<string, string> };
    expect(summary).to.include({ points: 800, stored: 800, invalidRecords: 0 });
    expect(summary.formats).to.deep.equal({
      "list.json": "json-list",
      "wrapped.json.gz": "dataframes-object",
      "page.json": "dataframes-object",
      "-": "ndjson",
    });
    expect(await count(backend)).to.equal(800);
  });

  it("stores the good lines, rejects the bad ones with reason and line, and exits non-zero", async () => {
    // A partition whose mapping rejects one point at the cluster, beside lines that are not even valid
    // (`dynamic: true` again: Elasticsearch 8 replaces the template's groupby object with this one, whole).
    await backend.client.request({
      method: "PUT",
      path: `/${backend.partitions.indexFor(DEFAULT_GENERATE.start)}`,
      body: { mappings: { properties: { groupby: { dynamic: true, properties: { size: { type: "long" } } } } } },
    });
    const good = ndjson(400).trim().split("\n"); // 2 frames of 200 points
    const conflict = JSON.stringify({
      period: { begin: "2024-01-01T05:00:00Z", end: "2024-01-01T06:00:00Z" },
      usage: {
        x: [
          { vol: { unit: "u", qty: 1 }, rating: { price: 1 }, groupby: { size: 5 } },
          { vol: { unit: "u", qty: 1 }, rating: { price: 1 }, groupby: { size: "big" } },
        ],
      },
    });
    // What JSON.parse would alter without a word: a lone surrogate escape, a key given twice.
    const surrogate = good[0]!.replace('"flavor_name":"flavor-0"', '"flavor_name":"\\ud800x"');
    const twice = good[0]!.replace('"unit":', '"unit":"x","unit":');
    const lines = [
      good[0],
      "{not json",
      JSON.stringify({ period: { begin: "2024-01-01", end: "2023-01-01" }, usage: {} }),
      conflict,
      surrogate,
      twice,
      good[1],
    ];
    writeFileSync(join(dir, "mixed.ndjson"), lines.join("\n") + "\n");
    const res = await runCli(["ingest", "mixed.ndjson", "--no-progress"], envFor(backend), dir);
    expect(res.code).to.equal(2);
    expect(JSON.parse(res.stdout)).to.include({ points: 402, stored: 401, rejectedPoints: 1, invalidRecords: 4 });
    expect(await count(backend)).to.equal(401);
    const rejects = readFileSync(join(dir, "ratestore-rejects.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; reason: string; path?: string });
    expect(rejects.map((r) => r.line)).to.deep.equal([2, 3, 5, 6, 4]);
    expect(rejects[0]!.reason).to.match(/invalid JSON/);
    expect(rejects[1]!.reason).to.match(/period\.end: must be after period\.begin/);
    expect(rejects[2]!.reason).to.match(/metadata\.flavor_name: is a string with a lone UTF-16 surrogate/);
    expect(rejects[3]!.reason).to.match(/\.unit: is given twice/);
    expect(rejects[4]).to.include({ path: "usage.x[1]" });
    expect(rejects[4]!.reason).to.match(/groupby.size/);
    expect(res.stderr).to.match(/see ratestore-rejects\.ndjson/);
  });

  it("killed halfway and run again, ends with exact counts and stores nothing twice", async () => {
    // 300 records of 200 points: killed once a third is stored, the rest left for the rerun.
    const total = 60_000;
    const gen = await runCli(["generate", "--points", String(total), "--out", "big.ndjson.gz"], {}, dir);
    expect(gen.code).to.equal(0);
    const child = spawnCli(
      ["ingest", "big.ndjson.gz", "--no-progress", "--batch-points", "2000", "--concurrency", "2"],
      envFor(backend),
      dir,
    );
    const checkpointFile = join(dir, "ratestore-ingest.checkpoint.json");
    // Kill it hard once the checkpoint shows real progress, well before the end.
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(checkpointFile)) continue;
      const done =
        Object.values((JSON.parse(readFileSync(checkpointFile, "utf8")) as { sources: Record<string, { done: number }> }).sources)[0]
          ?.done ?? 0;
      if (done >= 100) break;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    const partial = await count(backend);
    expect(partial).to.be.greaterThan(0).and.lessThan(total);
    const rerun = await runCli(["ingest", "big.ndjson.gz", "--no-progress"], envFor(backend), dir);
    expect(rerun.code, rerun.stderr).to.equal(0);
    const summary = JSON.parse(rerun.stdout) as { skippedRecords: number; stored: number; duplicates: number };
    expect(summary.skippedRecords).to.be.greaterThan(0);
    expect(await count(backend)).to.equal(total);
    console.log(
      `      killed after ${partial} points stored; the rerun skipped ${summary.skippedRecords} records, stored ${summary.stored}, met ${summary.duplicates} already stored`,
    );
  });

  it("ingests through the HTTP API with --api and --key", async () => {
    const api = await startApi();
    try {
      writeFileSync(join(dir, "a.ndjson"), ndjson(1000));
      const res = await runCli(["ingest", "a.ndjson", "--no-progress", "--api", api.url, "--key", ADMIN_KEY], {}, dir);
      expect(res.code, res.stderr).to.equal(0);
      expect(JSON.parse(res.stdout)).to.include({ points: 1000, stored: 1000 });
      expect(await count(api.backend)).to.equal(1000);
      const denied = await runCli(
        ["ingest", "a.ndjson", "--no-progress", "--no-checkpoint", "--api", api.url, "--key", "wrong-key-0000000000"],
        {},
        dir,
      );
      expect(denied.code).to.equal(2);
      expect(readFileSync(join(dir, "ratestore-rejects.ndjson"), "utf8")).to.match(/401: unknown API key/);
    } finally {
      await api.close();
    }
  });

  it("export writes the points back as NDJSON dataframes", async () => {
    writeFileSync(join(dir, "a.ndjson"), ndjson(500));
    expect((await runCli(["ingest", "a.ndjson", "--no-progress"], envFor(backend), dir)).code).to.equal(0);
    await count(backend);
    const res = await runCli(
      [
        "export",
        "--begin",
        "2024-01-01T00:00:00Z",
        "--end",
        "2024-02-01T00:00:00Z",
        "--filters",
        "project_id:project-0001",
        "--out",
        "out.ndjson.gz",
      ],
      envFor(backend),
      dir,
    );
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stderr).to.match(/export: 50 points written/);
  });
});
