import { execFile, execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The test venv's python, created from PyPI on first use by scripts/python-venv.sh (cached in .cache/python). */
export function venvPython(requirements = "test/python/requirements.txt"): string {
  const out = execFileSync("bash", ["scripts/python-venv.sh", requirements], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return resolve(ROOT, out.trim());
}

/** Runs a console script of the venv (for example `cloudkitty`). */
export function venvTool(
  python: string,
  tool: string,
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      resolve(dirname(python), tool),
      [...args],
      { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}
