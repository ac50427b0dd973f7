import Mocha from "mocha";

/**
 * The engines one test run covers, and the loop that runs a suite on each of them, the way kysely loops
 * its tests over dialects: one mocha run, each suite's title tagged with its engine. Before the run, the
 * global setup gathers each engine's suites under one suite for the engine (`groupByEngine`), whose hooks
 * start the engine's node before its first suite and stop it after its last, so one shared node runs at
 * a time on a machine of few cores.
 *
 *   RATESTORE_TEST_ENGINES="opensearch:3.6.0 elasticsearch:7.10.2"   the engines of this run
 *   RATESTORE_TEST_ENGINE_INDEPENDENT=0   the suites that cannot differ by engine left out
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

/** Each top-level suite declared through this module, with its engine. */
const engineOfSuite = new Map<Mocha.Suite, TestEngine>();

function engineSuite(engine: TestEngine, title: string, body: (this: Mocha.Suite) => void): void {
  const suite = describe(`${title} [${engine.label}]`, function () {
    // Registered first, so it runs before the body's own hooks; the next engine's suite sets its own.
    before(() => {
      current = engine;
    });
    body.call(this);
  });
  engineOfSuite.set(suite, engine);
}

/** A suite whose behaviour can differ by engine: run once on each engine of the run. */
export function forEachEngine(title: string, body: (this: Mocha.Suite) => void): void {
  for (const engine of ENGINES) engineSuite(engine, title, body);
}

/**
 * Whether this run holds the suites that cannot differ by engine: `RATESTORE_TEST_ENGINE_INDEPENDENT=0`
 * leaves them out of a run that shares the engine matrix with another run that has them (CI's pass on
 * the oldest Node.js it supports takes half the engines and not these suites).
 */
export const ENGINE_INDEPENDENT_SUITES = process.env.RATESTORE_TEST_ENGINE_INDEPENDENT !== "0";

/**
 * A suite whose behaviour cannot differ by engine (ratestore's own failure handling, input checks, the
 * Python clients): run on the default engine only.
 */
export function onDefaultEngine(title: string, body: (this: Mocha.Suite) => void): void {
  if (ENGINE_INDEPENDENT_SUITES) engineSuite(ENGINES[0]!, title, body);
}

/** What an engine's group does before its first suite and after its last. */
export interface EngineNode {
  start(engine: TestEngine): Promise<void>;
  stop(engine: TestEngine): Promise<void>;
}

/** How long an engine's node may take to start or stop (a first start fetches it from Maven Central). */
const NODE_HOOK_TIMEOUT_MS = 15 * 60_000;

/**
 * Moves the root's engine suites, in the order they were declared, under one suite per engine of the
 * run ("on opensearch 3.6.0"), in the run's engine order after the suites of no engine (unit tests), and
 * gives each group hooks that start its node before its first suite and stop it after its last.
 */
export function groupByEngine(root: Mocha.Suite, node: EngineNode): void {
  const grouped = root.suites.filter((suite) => engineOfSuite.has(suite));
  if (grouped.length === 0) return;
  root.suites = root.suites.filter((suite) => !engineOfSuite.has(suite));
  for (const engine of ENGINES) {
    const members = grouped.filter((suite) => engineOfSuite.get(suite) === engine);
    if (members.length === 0) continue;
    const group = Mocha.Suite.create(root, `on ${engine.label}`);
    group.beforeAll(`start ${engine.label}`, async function () {
      this.timeout(NODE_HOOK_TIMEOUT_MS);
      await node.start(engine);
    });
    group.afterAll(`stop ${engine.label}`, async function () {
      this.timeout(NODE_HOOK_TIMEOUT_MS);
      await node.stop(engine);
    });
    // Moved by hand: Suite#addSuite would reset each suite's timeout to the group's.
    for (const suite of members) {
      suite.parent = group;
      group.suites.push(suite);
    }
  }
}
