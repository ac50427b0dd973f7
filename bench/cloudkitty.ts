/**
 * CloudKitty's own v2 storage backend (cloudkitty from PyPI, in the driver's test venv), driven line by
 * line through test/python/cloudkitty_storage.py: the baseline the bench times ratestore against.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { generateFrames, type GenerateOptions } from "../src/cli/generate.js";

export interface CloudKitty {
  /** Sends one command and waits for its answer. */
  ask(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

export function startCloudKitty(): CloudKitty {
  const python = execFileSync("bash", ["scripts/python-venv.sh", "integrations/cloudkitty/test-requirements.txt"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  const child = spawn(python, ["test/python/cloudkitty_storage.py"], { stdio: ["pipe", "pipe", "inherit"] });
  const answers = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async ask(command) {
      child.stdin!.write(JSON.stringify(command) + "\n");
      const next = await answers.next();
      if (next.done) throw new Error("the CloudKitty baseline exited");
      return JSON.parse(next.value) as Record<string, unknown>;
    },
    close() {
      child.stdin!.end();
      child.kill();
    },
  };
}

/** The generated dataset as an NDJSON file of dataframes, for CloudKitty's `push()`. */
export function datasetFile(gen: GenerateOptions): string {
  const path = join(mkdtempSync(join(tmpdir(), "ratestore-bench-")), "dataset.ndjson");
  const fd = openSync(path, "w");
  for (const frame of generateFrames(gen)) writeSync(fd, JSON.stringify(frame) + "\n");
  closeSync(fd);
  return path;
}
