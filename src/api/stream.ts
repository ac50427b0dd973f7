/** Streaming JSON and NDJSON answers with back-pressure, whatever their size. */
import type { Response } from "express";
import { stringifyExact } from "./exact-json.js";

/** Resolves on drain or close, and leaves no listener behind (a stream waits thousands of times). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * What may wait in the socket's buffer before a writer waits for it to drain: a page of an export
 * (about 1.5 MB) can be sent while the next one is read and converted, and memory stays bounded.
 */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** Writes with backpressure: waits for the socket to drain instead of buffering the whole answer. */
async function write(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(chunk) && res.writableLength > MAX_BUFFERED) await drained(res);
  return !res.destroyed;
}

/**
 * NDJSON, written as it comes: each chunk is whole lines (see dataFramesNdjson). The next chunk is asked
 * for before waiting for the socket, so that it is produced while the previous one is sent.
 */
export async function streamNdjson(res: Response, chunks: AsyncIterable<string>): Promise<void> {
  res.status(200).type("application/x-ndjson");
  const it = chunks[Symbol.asyncIterator]();
  let next = it.next();
  for (;;) {
    const chunk = await next;
    if (chunk.done) break;
    if (res.destroyed) return void (await it.return?.());
    next = it.next();
    // Awaited on the next turn; until then a failure must not count as unhandled.
    next.catch(() => undefined);
    if (!(await write(res, chunk.value))) return void (await it.return?.());
  }
  res.end();
}

/** The members of a streamed JSON object: those known at once, one array streamed, those known at the end. */
export interface StreamedObject {
  readonly head: Record<string, unknown>;
  readonly key: string;
  /** Each item as JSON text, written as it is (dataframes come written by dataFrameJson). */
  readonly items: AsyncIterable<string>;
  readonly tail: () => Promise<Record<string, unknown>>;
}

/**
 * Writes `{...head, key: [items...], ...tail}` as the items arrive, with backpressure, so memory does not
 * grow with the answer. The first item is read before the status is sent: a failure at the start is
 * still answered with its own status and JSON error body.
 */
export async function streamObject(res: Response, body: StreamedObject): Promise<void> {
  const it = body.items[Symbol.asyncIterator]();
  let item = await it.next();
  res.status(200).type("application/json");
  const head = stringifyExact(body.head).slice(0, -1);
  if (!(await write(res, `${head}${head.length > 1 ? "," : ""}${JSON.stringify(body.key)}:[`))) return void (await it.return?.());
  let first = true;
  while (!item.done) {
    if (!(await write(res, (first ? "" : ",") + item.value))) return void (await it.return?.());
    first = false;
    item = await it.next();
  }
  const tail = stringifyExact(await body.tail()).slice(1);
  res.end(tail === "}" ? "]}" : `],${tail}`);
}
