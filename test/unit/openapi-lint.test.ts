import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { buildOpenApi } from "../../src/api/openapi.js";

/** The OpenAPI document passes Redocly's recommended rules with no error and no warning. */
describe("OpenAPI document under @redocly/cli lint", function () {
  this.timeout(60_000);

  it("has no problem: servers, an operationId per operation, a licence, a 4xx answer on every operation", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ratestore-openapi-")), "openapi.json");
    writeFileSync(file, JSON.stringify(buildOpenApi("0.0.0-test")));
    const run = await promisify(execFile)("npx", ["redocly", "lint", file, "--format=json"], { maxBuffer: 16 * 1024 * 1024 }).catch(
      (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
    );
    const report = JSON.parse(run.stdout) as {
      totals: { errors: number; warnings: number };
      problems: { ruleId: string; message: string }[];
    };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).to.deep.equal([]);
    expect(report.totals).to.include({ errors: 0, warnings: 0 });
  });

  it("names every operation uniquely", () => {
    const doc = buildOpenApi("0.0.0-test") as { paths: Record<string, Record<string, { operationId?: string }>> };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.every((id) => typeof id === "string")).to.equal(true);
    expect(new Set(ids).size).to.equal(ids.length);
  });
});
