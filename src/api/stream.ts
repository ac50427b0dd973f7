import type { Response } from "express";
import { dataFrameToOutput, type DataFrame } from "../storage/dataframe.js";

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

/** Writes with backpressure: waits for the socket to drain instead of buffering the whole answer. */
async function write(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(chunk)) await drained(res);
  return !res.destroyed;
}

/** NDJSON: one CloudKitty dataframe per line. */
export async function streamNdjson(res: Response, frames: AsyncIterable<DataFrame>): Promise<void> {
  res.status(200).type("application/x-ndjson");
  for await (const df of frames) {
    if (!(await write(res, JSON.stringify(dataFrameToOutput(df)) + "\n"))) return;
  }
  res.end();
}

/** CloudKitty's `{total, dataframes}` object, streamed. */
export async function streamDataframesObject(res: Response, total: number, frames: AsyncIterable<DataFrame>): Promise<void> {
  res.status(200).type("application/json");
  if (!(await write(res, `{"total":${total},"dataframes":[`))) return;
  let first = true;
  for await (const df of frames) {
    if (!(await write(res, (first ? "" : ",") + JSON.stringify(dataFrameToOutput(df))))) return;
    first = false;
  }
  res.end("]}");
}
