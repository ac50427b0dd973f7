import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { helpReference, withReference } from "../../src/cli/help-reference.js";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/processes.js";

// A port nothing listens on: a command that reached for the cluster would fail, and say so.
const NOWHERE = { RATESTORE_CLUSTER_URL: "http://127.0.0.1:9" };

describe("command line", function () {
  this.timeout(30_000);

  it("docs/cli.md holds the current --help of every command (npm run docs:cli writes it)", () => {
    const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
    expect(doc).to.equal(withReference(doc, helpReference()));
  });

  it("--help of a command prints its help on stdout, exits 0 and runs nothing", async () => {
    for (const command of [["sweep"], ["init"], ["ingest"], ["rollups", "rebuild"], ["migrate"]]) {
      const res = await runCli([...command, "--help"], NOWHERE, process.cwd());
      expect(res.code, `${command.join(" ")}: ${res.stderr}`).to.equal(0);
      expect(res.stdout).to.match(new RegExp(`^Usage: ratestore ${command.join(" ")} `));
      expect(res.stderr).to.equal("");
    }
  });

  it("--version prints package.json's version", async () => {
    const res = await runCli(["--version"], {}, process.cwd());
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(res).to.include({ code: 0, stdout: `${version}\n` });
  });

  it("a usage mistake names the option and the reason, exit 1", async () => {
    const bad = await runCli(["generate", "--points", "ten"], {}, process.cwd());
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain("option '--points <n>' argument 'ten' is invalid. must be a non-negative integer");
    const unknown = await runCli(["ingest", "--bogus", "x"], {}, process.cwd());
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain("unknown option '--bogus'");
  });

  it("an error is one line with its cause, and no stack unless --debug", async () => {
    // A folder of its own: an ingest checkpoint or reject file left in the working folder would change the answers.
    const dir = mkdtempSync(join(tmpdir(), "ratestore-cli-"));
    const missing = await runCli(["ingest", "no-such-file.ndjson"], NOWHERE, dir);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.equal("ratestore ingest: files: no such file: no-such-file.ndjson\n");
    const frame = JSON.stringify({ period: { begin: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z" }, usage: {} });
    const port = await freePort();
    // After its retries (about 12 s): a closed port may be a service restarting.
    const closed = await runCli(["ingest", "--api", `http://127.0.0.1:${port}`, "--no-progress", "-"], {}, dir, frame);
    expect(closed.code).to.equal(1);
    expect(closed.stderr.trim().split("\n")).to.have.length(1);
    expect(closed.stderr).to.match(
      new RegExp(`^ratestore ingest: API unreachable at http://127\\.0\\.0\\.1:${port}: fetch failed: .*ECONNREFUSED`),
    );
    const debug = await runCli(["--debug", "ingest", "no-such-file.ndjson"], NOWHERE, dir);
    expect(debug.stderr).to.match(/\n\s+at /);
  });
});
