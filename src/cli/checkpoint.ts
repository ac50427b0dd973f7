/** Checkpoints of long CLI runs (ingest, migrate), so that an interrupted run resumes where it stopped. */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";

/**
 * How far an ingestion got in each source: every record before `done` was stored or written to the
 * reject file. A rerun skips those; records after it are pushed again, which stores nothing twice
 * because point ids are deterministic.
 */
const CheckpointSchema = z.object({
  version: z.literal(1),
  sources: z.record(z.string(), z.object({ size: z.number().optional(), done: z.number().int().nonnegative(), complete: z.boolean() })),
});
type CheckpointData = z.infer<typeof CheckpointSchema>;

export class Checkpoint {
  private data: CheckpointData = { version: 1, sources: {} };
  /** Finished record indexes past the contiguous watermark, per source. */
  private readonly pending = new Map<string, Set<number>>();

  constructor(readonly path: string | undefined) {
    if (!path) return;
    try {
      this.data = CheckpointSchema.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch {
      // No checkpoint yet (or an unreadable one): start from the beginning, which is always safe.
    }
  }

  /** Records to skip in a source; 0 when the source changed size since the checkpoint. */
  resumeFrom(source: string, size: number | undefined): number {
    const s = this.data.sources[source];
    if (!s || (size !== undefined && s.size !== undefined && s.size !== size)) {
      this.data.sources[source] = { ...(size !== undefined ? { size } : {}), done: 0, complete: false };
      return 0;
    }
    return s.done;
  }

  get resuming(): boolean {
    return Object.values(this.data.sources).some((s) => s.done > 0);
  }

  finished(source: string, index: number): void {
    const s = this.data.sources[source]!;
    let set = this.pending.get(source);
    if (!set) this.pending.set(source, (set = new Set()));
    set.add(index);
    while (set.delete(s.done)) s.done++;
  }

  complete(source: string): void {
    this.data.sources[source]!.complete = true;
  }

  save(): void {
    if (!this.path) return;
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.path);
  }
}
