import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { resolve } from "node:path";
import { currentEngine } from "./engines.js";

const ROOT = resolve(__dirname, "../..");

/**
 * A node of its own for a test that stops it (kill -9) and starts it again: never the shared test node.
 * Provisioned by the same script as the shared nodes (the running suite's engine and version), on its own ports, with a
 * small heap; `clusterPorts` makes it one node of a multi-node cluster on this machine.
 */
export class OwnNode {
  constructor(
    readonly port: number,
    private readonly clusterPorts: readonly number[] = [],
    /** Overrides of the provisioning script's environment: another engine version, plugins, node settings. */
    private readonly provisioning: Readonly<Record<string, string>> = {},
  ) {}

  get url(): string {
    return `${this.provisioning.RATESTORE_OS_SECURITY === "demo" ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /** The CA file of a node provisioned with RATESTORE_OS_SECURITY=demo. */
  caFile(): string {
    return this.script("ca").trim();
  }

  private env(): NodeJS.ProcessEnv {
    const { RATESTORE_CLUSTER_URL: _shared, ...env } = process.env;
    const engine = currentEngine().provision;
    return {
      ...env,
      RATESTORE_ENGINE_PORT: String(this.port),
      RATESTORE_ENGINE_HEAP: "384m",
      ...(engine ? { RATESTORE_ENGINE: engine.engine, RATESTORE_ENGINE_VERSION: engine.version } : {}),
      ...(this.clusterPorts.length > 0 ? { RATESTORE_ENGINE_CLUSTER_PORTS: this.clusterPorts.join(",") } : {}),
      ...this.provisioning,
    };
  }

  private script(cmd: string): string {
    return execFileSync("bash", ["scripts/engine-local.sh", cmd], {
      cwd: ROOT,
      env: this.env(),
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
    });
  }

  start(): void {
    this.script("start");
  }

  /** Starts without blocking: the nodes of a cluster must start together, none serves before a quorum. */
  async startAsync(): Promise<void> {
    await promisify(execFile)("bash", ["scripts/engine-local.sh", "start"], { cwd: ROOT, env: this.env() });
  }

  stop(): void {
    this.script("stop");
  }

  /** SIGKILL, as a crash: no flush, no goodbye. Resolves once the process is gone. */
  async kill9(): Promise<void> {
    const pid = Number(this.script("pid").trim());
    if (!pid) throw new Error(`no node runs on port ${this.port}`);
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
