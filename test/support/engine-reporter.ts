import Mocha from "mocha";

/**
 * Mocha's spec reporter, then a line per engine of the run: how many tests passed, failed and were
 * pending on it (a suite's engine is the tag test/support/engines.ts puts in its title). Unit tests,
 * which run on no engine, are counted as "no engine".
 */
const { EVENT_RUN_END, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_TEST_PENDING } = Mocha.Runner.constants;
type Outcome = "passing" | "failing" | "pending";

function engineOf(runnable: Mocha.Runnable): string {
  for (let suite: Mocha.Suite | undefined = runnable.parent; suite; suite = suite.parent) {
    const tag = /\[([^\]]+)\]$/.exec(suite.title);
    if (tag) return tag[1]!;
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
    runner.once(EVENT_RUN_END, () => {
      console.log("  per engine:");
      for (const [engine, c] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
        console.log(`    ${engine}: ${c.passing} passing, ${c.failing} failing, ${c.pending} pending`);
      console.log();
    });
  }
}
