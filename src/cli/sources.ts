/** Inputs of dataframes for ingestion: files or stdin, gzip or plain. */
import { createReadStream, createWriteStream, statSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";

/** An input of dataframes: a file or stdin, gzip or plain (told by its magic bytes), read as text chunks. */
export interface Source {
  readonly name: string;
  /** Compressed or plain bytes read so far, and the total when known (files), for progress and ETA. */
  readonly progress: { bytesRead: number; totalBytes?: number };
  readonly chunks: AsyncIterable<string>;
}

const GZIP_MAGIC = [0x1f, 0x8b];

export function openSource(name: string): Source {
  const raw: Readable = name === "-" ? process.stdin : createReadStream(name, { highWaterMark: 256 * 1024 });
  const totalBytes = name === "-" ? undefined : statSync(name).size;
  const progress: { bytesRead: number; totalBytes?: number } = { bytesRead: 0, ...(totalBytes !== undefined ? { totalBytes } : {}) };
  async function* chunks(): AsyncGenerator<string> {
    const counted = (async function* () {
      for await (const c of raw) {
        const buf = c as Buffer;
        progress.bytesRead += buf.length;
        yield buf;
      }
    })();
    const first = await counted.next();
    if (first.done) return;
    const head = first.value;
    const gz = head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
    const bytes = (async function* () {
      yield head;
      yield* counted;
    })();
    // Fatal: bytes that are not UTF-8 stop the load with an error, never become U+FFFD in stored labels.
    const utf8 = () => new TextDecoder("utf-8", { fatal: true });
    if (!gz) {
      const decoder = utf8();
      for await (const b of bytes) yield decoder.decode(b, { stream: true });
      const tail = decoder.decode();
      if (tail) yield tail;
      return;
    }
    const gunzip = createGunzip();
    const feed = (async () => {
      for await (const b of bytes) if (!gunzip.write(b)) await new Promise((r) => gunzip.once("drain", r));
      gunzip.end();
    })();
    feed.catch((err: unknown) => gunzip.destroy(err as Error));
    const decoder = utf8();
    for await (const b of gunzip) yield decoder.decode(b as Buffer, { stream: true });
    await feed;
    const tail = decoder.decode();
    if (tail) yield tail;
  }
  return { name, progress, chunks: chunks() };
}

/** A text output: a file (gzip when it ends in .gz) or stdout. */
export function openSink(name: string, append = false): { write(text: string): Promise<void>; close(): Promise<void> } {
  const file: Writable = name === "-" ? process.stdout : createWriteStream(name, { flags: append ? "a" : "w" });
  const out: Writable = name.endsWith(".gz") ? createGzip({ level: 6 }) : file;
  if (out !== file) out.pipe(file);
  return {
    async write(text: string) {
      if (!out.write(text)) await new Promise((r) => out.once("drain", r));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (name === "-" && out === file) return resolve();
        file.once("error", reject);
        file.once("finish", () => resolve());
        out.end();
      }),
  };
}
