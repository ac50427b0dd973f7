import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { dropPrefix, testStorageConfig } from "../../support/cluster.js";
import { onDefaultEngine } from "../../support/engines.js";
import { freePort, startService, type ChildService } from "../../support/processes.js";

const ROOT = resolve(__dirname, "../../..");

/** The README's quick start: its shell blocks in order, each with the output the README shows after it. */
export function quickStartSteps(readme: string): { script: string; output: string }[] {
  const start = readme.indexOf("\n## Quick start\n");
  if (start < 0) throw new Error("the README has no Quick start section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```(sh|text)\n([\s\S]*?)```/g)].map((m) => ({ kind: m[1]!, body: m[2]! }));
  const steps: { script: string; output: string }[] = [];
  blocks.forEach((block, i) => {
    if (block.kind !== "sh") return;
    const next = blocks[i + 1];
    steps.push({ script: block.body, output: next?.kind === "text" ? next.body : "" });
  });
  return steps;
}

/** Dates differ from the day the README's outputs were captured: compare them as a placeholder. */
const undated = (text: string) => text.replace(/\d{4}-\d{2}-\d{2}/g, "<day>").trimEnd();

onDefaultEngine("README: the quick start, run as written", function () {
  this.timeout(600_000);
  let storage: ReturnType<typeof testStorageConfig>;
  let service: ChildService;
  let url: string;
  let dir: string;

  before(async () => {
    storage = testStorageConfig();
    dir = mkdtempSync(join(tmpdir(), "ratestore-quick-start-"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // As `npm start` runs it (no keys: loopback only), on the suite's engine and a prefix of its own.
    service = await startService("ratestore", process.execPath, ["--import", "tsx", "src/main.ts"], {
      logFile: join(dir, "service.log"),
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        RATESTORE_CLUSTER_URL: storage.cluster.urls.join(","),
        RATESTORE_INDEX_PREFIX: storage.indexPrefix,
        RATESTORE_LOG_LEVEL: "warn",
      },
      ready: async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true,
    });
  });

  after(async () => {
    await service?.stop();
    if (storage) await dropPrefix(storage);
  });

  it("prints, step by step, what the README shows", async () => {
    const steps = quickStartSteps(readFileSync(join(ROOT, "README.md"), "utf8"));
    expect(steps.map((s) => s.output.length > 0)).to.deep.equal([true, true, true, true, true]);
    const marker = (i: number) => `@@@ step ${i} @@@`;
    const script = ["set -euo pipefail", ...steps.flatMap((s, i) => [`echo '${marker(i)}'`, s.script])].join("\n");
    writeFileSync(join(dir, "quick-start.sh"), script);
    const { stdout } = await promisify(execFile)("bash", [join(dir, "quick-start.sh")], {
      cwd: dir,
      env: { ...process.env, URL: url },
      maxBuffer: 16 * 1024 * 1024,
    });
    const outputs = stdout.split(/@@@ step \d+ @@@\n/).slice(1);
    expect(outputs).to.have.length(steps.length);
    steps.forEach((step, i) => expect(undated(outputs[i]!), `step ${i + 1}:\n${step.script}`).to.equal(undated(step.output)));
  });
});
