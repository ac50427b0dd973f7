import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { CLOUDKITTY_REQUIREMENTS, venvPython } from "./python.js";

const ROOT = resolve(__dirname, "../..");

/** CloudKitty's own storage backend (from PyPI), one command at a time: test/python/cloudkitty_storage.py. */
export class CloudKittyStorage {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = "";

  private constructor(python: string) {
    this.proc = spawn(python, [resolve(ROOT, "test/python/cloudkitty_storage.py")], { cwd: ROOT });
    this.proc.stderr.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  /** `create`: run CloudKitty's init() on the (existing) index, as CloudKitty does at set-up. */
  static async open(backend: "opensearch" | "elasticsearch", url: string, index: string, create: boolean): Promise<CloudKittyStorage> {
    const ck = new CloudKittyStorage(venvPython(CLOUDKITTY_REQUIREMENTS));
    await ck.call({ op: "init", backend, url, index, create });
    return ck;
  }

  async call<T = unknown>(command: Record<string, unknown>): Promise<T> {
    this.proc.stdin.write(JSON.stringify(command) + "\n");
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`CloudKitty's storage exited on ${String(command.op)}: ${this.stderr}`);
    return JSON.parse(value) as T;
  }

  close(): void {
    this.proc.stdin.end();
  }
}
