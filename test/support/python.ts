import { execFile, execFileSync, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The requirements of the environment of python-cloudkittyclient, opensearch-py and schemathesis. */
export const CLIENT_REQUIREMENTS = "test/python/requirements.txt";
/** The requirements of the environment of CloudKitty and the ratestore driver. */
export const CLOUDKITTY_REQUIREMENTS = "integrations/cloudkitty/test-requirements.txt";
/** The requirements of every Python environment of the suites. */
export const TEST_REQUIREMENTS = [CLIENT_REQUIREMENTS, CLOUDKITTY_REQUIREMENTS] as const;

/**
 * Starts building the suites' Python environments in the background, one after the other, so that the
 * downloads overlap the run's first suites; a suite that needs one before it is ready waits for it
 * (scripts/python-venv.sh holds a lock per environment). Not awaited: a failure shows when a suite asks.
 */
export function prebuildVenvs(): void {
  const script = TEST_REQUIREMENTS.map((r) => `bash scripts/python-venv.sh ${r} >/dev/null`).join(" && ");
  const child = spawn("bash", ["-c", script], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], detached: true });
  child.on("error", () => undefined);
  child.unref();
}

/** The test venv's python, created from PyPI on first use by scripts/python-venv.sh (cached in .cache/python). */
export function venvPython(requirements: string = CLIENT_REQUIREMENTS): string {
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
