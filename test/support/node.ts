import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

/**
 * A node of its own for a test that stops it (kill -9) and starts it again: never the shared test node.
 * Provisioned by the same script, on its own port, with a small heap.
 */
export class OwnNode {
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private script(cmd: string): void {
    const { OPENSEARCH_URL: _shared, ...env } = process.env;
    execFileSync("bash", ["scripts/opensearch-local.sh", cmd], { cwd: ROOT, env: { ...env, RATESTORE_OS_PORT: String(this.port), RATESTORE_OS_HEAP: "384m" }, stdio: ["ignore", "ignore", "pipe"] });
  }

  start(): void {
    this.script("start");
  }

  stop(): void {
    this.script("stop");
  }

  /** SIGKILL, as a crash: no flush, no goodbye. Resolves once the process is gone. */
  async kill9(): Promise<void> {
    const cache = process.env.RATESTORE_CACHE_DIR ?? resolve(ROOT, ".cache/opensearch");
    const pid = Number(readFileSync(resolve(cache, `node-${this.port}/opensearch.pid`), "utf8").trim());
    process.kill(pid, "SIGKILL");
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
