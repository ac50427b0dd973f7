/** Bulk ingestion of dataframes from files or stdin (`ratestore ingest`), with rejects and checkpoints. */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { PushResult } from "../storage/backend.js";
import { DataFrameInputSchema, type DataFrame } from "../storage/dataframe.js";
import { strictJsonIssues } from "../strict-json.js";
import { issuesOf, reservedKeyIssues } from "../validation.js";
import { Checkpoint } from "./checkpoint.js";
import { records, type SourceFormat, type SourceRecord } from "./json-stream.js";
import { Progress } from "./progress.js";
import { openSink, openSource } from "./sources.js";
import type { PushTarget } from "./targets.js";

export interface IngestOptions {
  readonly sources: readonly string[];
  readonly target: PushTarget;
  /** Points per push at most (whole dataframes are never split, so a push may hold one larger frame). */
  readonly batchPoints: number;
  /** Pushes in flight at most: reading waits for a free slot, so memory stays flat. */
  readonly concurrency: number;
  readonly rejectPath: string;
  readonly checkpointPath?: string;
  readonly progress?: boolean;
}

export interface IngestSummary {
  records: number;
  skippedRecords: number;
  invalidRecords: number;
  points: number;
  stored: number;
  duplicates: number;
  rejectedPoints: number;
  /** How each input held its dataframes, by the name it was given. */
  formats: Record<string, SourceFormat>;
  seconds: number;
}

interface Batch {
  source: string;
  frames: DataFrame[];
  raw: string[];
  meta: SourceRecord[];
  points: number;
}

/**
 * Loads files of dataframes through a push target. Nothing is lost: every invalid record and every point
 * that finally fails goes to the reject file with its reason and source line; a stopped run restarts from
 * its checkpoint and, ids being deterministic, stores nothing twice.
 */
export async function ingest(opts: IngestOptions): Promise<IngestSummary> {
  const started = Date.now();
  const checkpoint = new Checkpoint(opts.checkpointPath);
  const rejects = openSink(opts.rejectPath, checkpoint.resuming);
  const summary: IngestSummary = {
    records: 0,
    skippedRecords: 0,
    invalidRecords: 0,
    points: 0,
    stored: 0,
    duplicates: 0,
    rejectedPoints: 0,
    formats: {},
    seconds: 0,
  };
  const io = { bytesRead: 0, totalBytes: 0 as number | undefined };
  const progress = new Progress(() => ({
    points: summary.points,
    stored: summary.stored + summary.duplicates,
    rejected: summary.rejectedPoints,
    bytesRead: io.bytesRead,
    ...(io.totalBytes ? { totalBytes: io.totalBytes } : {}),
  }));
  if (opts.progress !== false) progress.start();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  const reject = (entry: Record<string, unknown>) => rejects.write(JSON.stringify(entry) + "\n");

  const settle = async (batch: Batch, result: PushResult) => {
    summary.stored += result.stored;
    summary.duplicates += result.duplicates;
    summary.rejectedPoints += result.failed.length + result.unknown.length;
    for (const f of [...result.failed, ...result.unknown]) {
      const rec = batch.meta[f.dataframe]!;
      await reject({
        source: batch.source,
        line: rec.line,
        record: rec.index,
        path: `usage.${f.type}[${f.index}]`,
        status: f.status,
        reason: f.reason,
      });
    }
    for (const rec of batch.meta) checkpoint.finished(batch.source, rec.index);
    checkpoint.save();
  };

  const dispatch = async (batch: Batch) => {
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    if (failure) throw failure;
    const p: Promise<void> = opts.target
      .push(batch.frames, batch.raw)
      .then((result) => settle(batch, result))
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  try {
    const sizes = opts.sources.map((name) => (name === "-" ? undefined : statSync(name).size));
    io.totalBytes = sizes.every((s) => s !== undefined) ? sizes.reduce<number>((a, s) => a + (s ?? 0), 0) : undefined;
    let bytesBefore = 0;
    for (const name of opts.sources) {
      const key = name === "-" ? "-" : resolve(name);
      const source = openSource(name);
      const skip = checkpoint.resumeFrom(key, source.progress.totalBytes);
      let batch: Batch = { source: key, frames: [], raw: [], meta: [], points: 0 };
      for await (const rec of records(source.chunks, (format) => (summary.formats[name] = format))) {
        io.bytesRead = bytesBefore + source.progress.bytesRead;
        summary.records++;
        if (rec.index < skip) {
          summary.skippedRecords++;
          continue;
        }
        let json: unknown;
        try {
          json = JSON.parse(rec.text);
        } catch (err) {
          summary.invalidRecords++;
          await reject({
            source: key,
            line: rec.line,
            record: rec.index,
            reason: `invalid JSON: ${(err as Error).message}`,
            text: rec.text,
          });
          checkpoint.finished(key, rec.index);
          continue;
        }
        const refused = [...strictJsonIssues(rec.text), ...reservedKeyIssues(json)];
        const parsed = refused.length > 0 ? undefined : DataFrameInputSchema.safeParse(json);
        if (!parsed?.success) {
          summary.invalidRecords++;
          const details = parsed ? issuesOf(parsed.error) : refused;
          await reject({
            source: key,
            line: rec.line,
            record: rec.index,
            reason: details.map((d) => `${d.path}: ${d.message}`).join("; "),
            details,
            text: rec.text,
          });
          checkpoint.finished(key, rec.index);
          continue;
        }
        summary.points += parsed.data.points.length;
        batch.frames.push(parsed.data);
        batch.raw.push(rec.text);
        batch.meta.push(rec);
        batch.points += parsed.data.points.length;
        if (batch.points >= opts.batchPoints) {
          await dispatch(batch);
          batch = { source: key, frames: [], raw: [], meta: [], points: 0 };
        }
      }
      if (batch.frames.length > 0) await dispatch(batch);
      await Promise.all(inFlight);
      if (failure) throw failure;
      bytesBefore += source.progress.bytesRead;
      checkpoint.complete(key);
      checkpoint.save();
    }
    // Reads through ratestore refresh first; this one refresh makes the whole load visible to Dashboards too.
    if (summary.stored > 0) await opts.target.refresh();
  } finally {
    await Promise.allSettled(inFlight);
    checkpoint.save();
    progress.stop();
    await rejects.close();
    summary.seconds = (Date.now() - started) / 1000;
  }
  return summary;
}
