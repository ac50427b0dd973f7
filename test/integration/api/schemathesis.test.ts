import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DataFrameInputSchema } from "../../../src/storage/dataframe.js";
import { contentKey } from "../../../src/storage/search-engine/documents.js";
import { ADMIN_KEY, PROJECT_A_KEY, startApi, type TestApi } from "../../support/api.js";
import { venvPython, venvTool } from "../../support/python.js";
import { onDefaultEngine } from "../../support/engines.js";

/**
 * A bounded schemathesis run (from PyPI) against /openapi.json, as an admin and as a project key: no
 * 5xx, no response outside its schema, most generated pushes valid, and afterwards the index holds
 * exactly the points that were acknowledged.
 */

interface HarEntry {
  request: { method: string; url: string; postData?: { text?: string } };
  response: { status: number };
}

const HOOKS_DIR = resolve(__dirname, "../../python");

onDefaultEngine("API: schemathesis against /openapi.json", function () {
  this.timeout(600_000);
  let api: TestApi;
  let python: string;
  before(async () => {
    python = venvPython();
    api = await startApi();
  });
  after(async () => api.close());

  const run = async (key: string, scope?: string): Promise<HarEntry[]> => {
    const dir = mkdtempSync(join(tmpdir(), "ratestore-schemathesis-"));
    const har = join(dir, "run.har");
    const res = await venvTool(
      python,
      "schemathesis",
      [
        "run",
        `${api.url}/openapi.json`,
        "--url",
        api.url,
        "-H",
        `Authorization: Bearer ${key}`,
        "--mode",
        "positive",
        "--max-examples",
        "40",
        "--seed",
        "7",
        // The machine runs the node, the service and the generator on 2 cores: generation is slow here, not wrong.
        "--suppress-health-check",
        "too_slow,filter_too_much",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        // Deletes would remove what other cases pushed: the count below compares acknowledged with stored.
        "--exclude-method",
        "DELETE",
        "--report",
        "har",
        "--report-har-path",
        har,
      ],
      { PYTHONPATH: HOOKS_DIR, SCHEMATHESIS_HOOKS: "ratestore_hooks", ...(scope ? { RATESTORE_HOOK_SCOPE: scope } : {}), NO_COLOR: "1" },
      dir, // schemathesis keeps its cache in the working folder: not in the checkout
    );
    expect(res.code, res.stdout.slice(-4000) + res.stderr.slice(-2000)).to.equal(0);
    return (JSON.parse(readFileSync(har, "utf8")) as { log: { entries: HarEntry[] } }).log.entries;
  };

  const pushesOf = (entries: HarEntry[]) =>
    entries.filter((e) => e.request.method === "POST" && new URL(e.request.url).pathname === "/v2/dataframes");
  const acknowledged = new Set<string>();
  const acknowledge = (entries: HarEntry[]) => {
    for (const e of pushesOf(entries)) {
      if (e.response.status !== 204) continue;
      const body = JSON.parse(e.request.postData!.text!) as { dataframes: unknown[] };
      // A point is its content and its occurrence within the request (docs/api.md, "Identical points").
      const occurrences = new Map<string, number>();
      for (const raw of body.dataframes) {
        const df = DataFrameInputSchema.parse(raw);
        for (const p of df.points) {
          const key = contentKey(df.begin, df.end, p);
          const n = occurrences.get(key) ?? 0;
          occurrences.set(key, n + 1);
          acknowledged.add(`${key}#${n}`);
        }
      }
    }
  };

  // Both runs at once, so that the two generators (one Python process each) share the cores with the
  // service and the node instead of taking turns; no check below depends on the order of requests.
  const runs = new Map<string, Promise<HarEntry[]>>();
  const KEYS = [
    ["an admin key", ADMIN_KEY, undefined],
    ["a project key", PROJECT_A_KEY, "proj-a"],
  ] as const;
  before(() => {
    for (const [who, key, scope] of KEYS) {
      const entries = run(key, scope);
      entries.catch(() => undefined); // awaited by its test; not an unhandled rejection meanwhile
      runs.set(who, entries);
    }
  });

  for (const [who] of KEYS) {
    it(`with ${who}: no 5xx, no schema violation, most generated pushes accepted`, async () => {
      const entries = await runs.get(who)!;
      expect(
        entries.filter((e) => e.response.status >= 500).map((e) => `${e.request.method} ${e.request.url} ${e.response.status}`),
      ).to.deep.equal([]);
      const pushes = pushesOf(entries);
      const accepted = pushes.filter((p) => p.response.status === 204).length;
      console.log(`      ${entries.length} requests; ${accepted} of ${pushes.length} generated pushes accepted`);
      expect(accepted / pushes.length).to.be.greaterThan(1 / 3);
      acknowledge(entries);
    });
  }

  it("afterwards, the index holds exactly the acknowledged points", async () => {
    await api.backend.refresh();
    const res = await api.backend.client.request<{ count: number }>({ method: "GET", path: `/${api.backend.partitions.alias}/_count` });
    expect(acknowledged.size).to.be.greaterThan(0);
    expect(res.body.count).to.equal(acknowledged.size);
  });
});
