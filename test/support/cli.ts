import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { clusterUrl } from "./engines.js";

const ROOT = resolve(__dirname, "../..");
/** tsx's loader by absolute URL: the child runs in a temporary folder where `tsx` would not resolve. */
const TSX = pathToFileURL(resolve(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const CLI = resolve(ROOT, "src/cli/main.ts");

/**
 * The CLI's environment for a suite's data: the running suite's engine and the suite's prefix, with
 * retention off like the suite's backend (test data is dated 2024, past the default retention).
 */
export function cliEnv(indexPrefix: string): Record<string, string> {
  return { RATESTORE_CLUSTER_URL: clusterUrl(), RATESTORE_INDEX_PREFIX: indexPrefix, RATESTORE_RETENTION_MECHANISM: "none" };
}

/** Runs the CLI from source (no build needed) as a child process, the way an operator runs it. */
export function spawnCli(args: string[], env: Record<string, string>, cwd: string, stdin?: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", TSX, CLI, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  else child.stdin!.end();
  return child;
}

export async function runCli(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnCli(args, env, cwd, stdin);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}
