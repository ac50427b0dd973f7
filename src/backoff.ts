/** Waiting between attempts, shared by the writer, the ingest CLI and start-up. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with jitter: 100 ms, 200 ms, 400 ms... capped at 5 s. */
export function backoffMs(attempt: number): number {
  const base = Math.min(5000, 100 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}
