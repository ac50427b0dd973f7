/**
 * The engines one test run covers, and the loop that runs a suite on each of them, the way kysely loops
 * its tests over dialects: one mocha run, a node per engine started once by the global setup and kept
 * for the run, each suite's title tagged with its engine.
 *
 *   RATESTORE_TEST_ENGINES="opensearch:3.6.0 elasticsearch:7.10.2"   the engines of this run
 *   (unset: one engine, RATESTORE_ENGINE at RATESTORE_ENGINE_VERSION, OpenSearch 3.6.0 by default;
 *   RATESTORE_CLUSTER_URL set: that cluster only, provisioning nothing)
 */

export interface TestEngine {
  /** "opensearch 3.6.0": the tag in suite titles and in the per-engine counts. */
  readonly label: string;
  /** What scripts/engine-local.sh provisions for it; none for a cluster given by RATESTORE_CLUSTER_URL. */
  readonly provision?: { readonly engine: "opensearch" | "elasticsearch"; readonly version: string };
}

/** The label of a run against a cluster given by RATESTORE_CLUSTER_URL. */
export const GIVEN_CLUSTER = "given cluster";
const DEFAULT_VERSION = { opensearch: "3.6.0", elasticsearch: "8.19.21" } as const;
/** Where the global setup leaves each engine's URL, by label (JSON), for the suites and their child processes. */
export const URLS_VARIABLE = "RATESTORE_TEST_CLUSTER_URLS";

type EngineName = "opensearch" | "elasticsearch";

function engineName(name: string, entry: string): EngineName {
  if (name === "opensearch" || name === "elasticsearch") return name;
  throw new Error(`RATESTORE_TEST_ENGINES: "${entry}" names no engine (opensearch or elasticsearch)`);
}

/** The engines of this run, in order; the first is the default engine, where engine-independent suites run. */
export function testEngines(env: NodeJS.ProcessEnv = process.env): TestEngine[] {
  if (env.RATESTORE_CLUSTER_URL) return [{ label: GIVEN_CLUSTER }];
  const list = env.RATESTORE_TEST_ENGINES?.trim();
  if (!list) {
    const engine = engineName(env.RATESTORE_ENGINE ?? "opensearch", "RATESTORE_ENGINE");
    const version = env.RATESTORE_ENGINE_VERSION ?? DEFAULT_VERSION[engine];
    return [{ label: `${engine} ${version}`, provision: { engine, version } }];
  }
  const engines = list.split(/[\s,]+/).map((entry) => {
    const [name = "", given] = entry.split(":");
    const engine = engineName(name, entry);
    const version = given ?? DEFAULT_VERSION[engine];
    return { label: `${engine} ${version}`, provision: { engine, version } };
  });
  const labels = engines.map((e) => e.label);
  const twice = labels.find((l, i) => labels.indexOf(l) !== i);
  if (twice) throw new Error(`RATESTORE_TEST_ENGINES names ${twice} twice`);
  return engines;
}

const ENGINES = testEngines();
let current: TestEngine = ENGINES[0]!;

/** The engine the running suite is on. */
export function currentEngine(): TestEngine {
  return current;
}

/** The URL of the running suite's engine (set by the global setup). */
export function clusterUrl(): string {
  const urls = JSON.parse(process.env[URLS_VARIABLE] ?? "{}") as Record<string, string>;
  const url = urls[current.label];
  if (!url) throw new Error(`no URL for ${current.label}: the global setup provisions it (test/support/global-setup.ts)`);
  return url;
}

function engineSuite(engine: TestEngine, title: string, body: (this: Mocha.Suite) => void): void {
  describe(`${title} [${engine.label}]`, function () {
    // Registered first, so it runs before the body's own hooks; the next engine's suite sets its own.
    before(() => {
      current = engine;
    });
    body.call(this);
  });
}

/** A suite whose behaviour can differ by engine: run once on each engine of the run. */
export function forEachEngine(title: string, body: (this: Mocha.Suite) => void): void {
  for (const engine of ENGINES) engineSuite(engine, title, body);
}

/**
 * A suite whose behaviour cannot differ by engine (ratestore's own failure handling, input checks, the
 * Python clients): run on the default engine only.
 */
export function onDefaultEngine(title: string, body: (this: Mocha.Suite) => void): void {
  engineSuite(ENGINES[0]!, title, body);
}
