import Mocha from "mocha";

/**
 * Mocha's spec reporter, then a line per engine of the run: how many tests passed, failed and were
 * pending on it (a suite's engine is the tag test/support/engines.ts puts in its title) and how long its
 * group took; unit tests, which run on no engine, are counted as "no engine". Then the slowest hooks,
 * since set-up (nodes, data, child processes) is where a run's time goes that no test's time shows.
 */
const { EVENT_HOOK_END, EVENT_RUN_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING } =
  Mocha.Runner.constants;
const SLOWEST_HOOKS = 12;
type Outcome = "passing" | "failing" | "pending";

/** The engine of a group: a child of the root titled "on <engine>" (groupByEngine in engines.ts). */
const engineOfGroup = (suite: Mocha.Suite) => (suite.parent?.root ? /^on (.+)$/.exec(suite.title)?.[1] : undefined);

function engineOf(runnable: Mocha.Runnable): string {
  for (let suite: Mocha.Suite | undefined = runnable.parent; suite; suite = suite.parent) {
    const tag = /\[([^\]]+)\]$/.exec(suite.title)?.[1] ?? engineOfGroup(suite);
    if (tag) return tag;
  }
  return "no engine";
}

export default class EngineReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const counts = new Map<string, Record<Outcome, number>>();
    const count = (outcome: Outcome) => (runnable: Mocha.Runnable) => {
      const engine = engineOf(runnable);
      const row = counts.get(engine) ?? { passing: 0, failing: 0, pending: 0 };
      row[outcome] += 1;
      counts.set(engine, row);
    };
    runner.on(EVENT_TEST_PASS, count("passing"));
    runner.on(EVENT_TEST_FAIL, count("failing"));
    runner.on(EVENT_TEST_PENDING, count("pending"));
    const groupStart = new Map<string, number>();
    const groupSeconds = new Map<string, number>();
    runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      const engine = engineOfGroup(suite);
      if (engine) groupStart.set(engine, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite: Mocha.Suite) => {
      const engine = engineOfGroup(suite);
      const began = engine && groupStart.get(engine);
      if (began) groupSeconds.set(engine, Math.round((Date.now() - began) / 1000));
    });
    const hooks: { title: string; ms: number }[] = [];
    runner.on(EVENT_HOOK_END, (hook: Mocha.Hook) => {
      if (hook.duration !== undefined) hooks.push({ title: hook.fullTitle(), ms: hook.duration });
    });
    runner.once(EVENT_RUN_END, () => {
      console.log("  per engine:");
      for (const [engine, c] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
        const seconds = groupSeconds.get(engine);
        const took = seconds === undefined ? "" : ` in ${seconds} s`;
        console.log(`    ${engine}: ${c.passing} passing, ${c.failing} failing, ${c.pending} pending${took}`);
      }
      console.log("  slowest hooks:");
      for (const { title, ms } of hooks.sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_HOOKS))
        console.log(`    ${(ms / 1000).toFixed(1)} s  ${title}`);
      console.log();
    });
  }
}
