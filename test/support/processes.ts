import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Services a suite starts as child processes (an exporter, Prometheus, CloudKitty's API and processor): started, awaited, logged, stopped. */

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

export interface ChildService {
  readonly child: ChildProcess;
  /** What it wrote to stdout and stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a command with its output written to `logFile`; resolves once `ready` appears in that output
 * (or at once without `ready`), rejects if it exits first.
 */
export async function startService(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; ready?: RegExp | (() => Promise<boolean>) },
): Promise<ChildService> {
  const child = spawn(command, [...args], {
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = createWriteStream(options.logFile);
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const log = () => readFileSync(options.logFile, "utf8");
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const service: ChildService = {
    child,
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const ready = options.ready;
  if (!ready) return service;
  await new Promise<void>((resolveReady, reject) => {
    const fail = () =>
      reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log().slice(-3000)}`));
    child.once("exit", () => setTimeout(fail, 100));
    if (ready instanceof RegExp) {
      let seen = "";
      const look = (d: Buffer) => {
        seen += d.toString();
        if (ready.test(seen)) resolveReady();
      };
      child.stdout!.on("data", look);
      child.stderr!.on("data", look);
    } else {
      const poll = async () => {
        while (child.exitCode === null && child.signalCode === null) {
          if (await ready().catch(() => false)) return resolveReady();
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      void poll();
    }
  });
  return service;
}
