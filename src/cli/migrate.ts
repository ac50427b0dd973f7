/** Migration of a CloudKitty index into ratestore (`ratestore migrate`), day by day. */
import type { StorageBackend, StorageOperations } from "../storage/backend.js";
import type { CloudKittySource, SourceDocument } from "../storage/cloudkitty-source.js";
import type { DataFrame } from "../storage/dataframe.js";
import { Checkpoint } from "./checkpoint.js";
import { readCloudKittyDocument } from "./cloudkitty-documents.js";
import { Progress } from "./progress.js";
import { openSink } from "./sources.js";

/**
 * `ratestore migrate`: copies a CloudKitty v2 index into ratestore's partitions, a day of the source at
 * a time. Values are read from `_source` (exact whatever the source's mapping says), every point keeps
 * its source identity (index and document id), so a copy run again, or resumed after a crash, stores
 * nothing twice. A day is recorded in the checkpoint once all its points are stored or rejected.
 */

export interface MigrateOptions {
  readonly source: CloudKittySource;
  readonly index: string;
  readonly target: StorageBackend & Pick<StorageOperations, "refresh">;
  readonly window: { begin?: number; end?: number };
  readonly checkpointPath?: string;
  readonly rejectPath: string;
  readonly restart: boolean;
  readonly batchPoints: number;
  readonly progress: boolean;
}

export interface MigrateSummary {
  days: number;
  skippedDays: number;
  documents: number;
  mappingDocuments: number;
  points: number;
  stored: number;
  duplicates: number;
  rejected: number;
  seconds: number;
}

const PUSHES_IN_FLIGHT = 2;

interface Batch {
  frames: DataFrame[];
  /** The source document of each frame (one point each). */
  docs: SourceDocument[];
}

export async function migrate(opts: MigrateOptions): Promise<MigrateSummary> {
  const started = Date.now();
  const checkpoint = new Checkpoint(opts.restart ? undefined : opts.checkpointPath);
  const rejects = openSink(opts.rejectPath, checkpoint.resuming);
  const summary: MigrateSummary = {
    days: 0,
    skippedDays: 0,
    documents: 0,
    mappingDocuments: 0,
    points: 0,
    stored: 0,
    duplicates: 0,
    rejected: 0,
    seconds: 0,
  };
  const days = await opts.source.days(opts.window);
  const totalDocuments = days.reduce((n, d) => n + d.documents, 0);
  const progress = new Progress(
    () => ({
      points: summary.points,
      stored: summary.stored + summary.duplicates,
      rejected: summary.rejected,
      bytesRead: summary.documents,
      totalBytes: totalDocuments,
      unit: "documents",
    }),
    "migrate",
  );
  if (opts.progress) progress.start();
  const reject = (doc: { id: string; source?: unknown }, reason: string, status?: number) =>
    rejects.write(
      JSON.stringify({
        source: opts.source.name,
        index: opts.index,
        id: doc.id,
        ...(status !== undefined ? { status } : {}),
        reason,
        document: doc.source,
      }) + "\n",
    );
  try {
    for (const day of days) {
      const key = `${opts.source.name}#${new Date(day.start).toISOString()}`;
      // A day whose document count changed since the checkpoint is read again (idempotent).
      if (checkpoint.resumeFrom(key, day.documents) > 0) {
        summary.skippedDays++;
        summary.documents += day.documents;
        continue;
      }
      await copyDocuments(opts.source.documents(day.start, day.end), opts, summary, reject);
      checkpoint.finished(key, 0);
      checkpoint.complete(key);
      checkpoint.save();
      summary.days++;
    }
    // Documents without a `start` belong to no day: CloudKitty's mapping document, or damage.
    await copyDocuments(opts.source.documentsWithoutStart(), opts, summary, reject);
    // Reads through ratestore refresh first; this one refresh makes the whole copy visible to Dashboards too.
    await opts.target.refresh();
  } finally {
    progress.stop();
    await rejects.close();
    summary.seconds = (Date.now() - started) / 1000;
  }
  return summary;
}

async function copyDocuments(
  pages: AsyncIterable<SourceDocument[]>,
  opts: MigrateOptions,
  summary: MigrateSummary,
  reject: (doc: SourceDocument, reason: string, status?: number) => Promise<void>,
): Promise<void> {
  let batch: Batch = { frames: [], docs: [] };
  // Reading the next page overlaps the pushes of the previous ones (at most PUSHES_IN_FLIGHT at once).
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const settle = async (sent: Batch) => {
    const result = await opts.target.push(sent.frames, { refresh: false });
    summary.stored += result.stored;
    summary.duplicates += result.duplicates;
    for (const f of [...result.failed, ...result.unknown]) {
      summary.rejected++;
      await reject(sent.docs[f.dataframe]!, f.reason, f.status);
    }
  };
  const flush = async () => {
    if (batch.frames.length === 0) return;
    const sent = batch;
    batch = { frames: [], docs: [] };
    while (inFlight.size >= PUSHES_IN_FLIGHT) await Promise.race(inFlight);
    if (failure) throw failure;
    const p: Promise<void> = settle(sent)
      .catch((err: unknown) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  for await (const page of pages) {
    for (const doc of page) {
      summary.documents++;
      const read = readCloudKittyDocument(doc.source, `${opts.index}/${doc.id}`);
      if (read.kind === "mapping") {
        summary.mappingDocuments++;
      } else if (read.kind === "unreadable") {
        summary.rejected++;
        await reject(doc, read.reason);
      } else {
        summary.points++;
        batch.frames.push(read.frame);
        batch.docs.push(doc);
      }
    }
    if (batch.frames.length >= opts.batchPoints) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  if (failure) throw failure;
}
