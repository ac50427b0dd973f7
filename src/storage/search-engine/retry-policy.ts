/**
 * When the family sends a request again, and how long it waits first: one policy for reads and writes
 * (bulk items are retried by the writer on the same statuses and backoff).
 */
import { backoffMs, sleep } from "../../backoff.js";
import { BackendError, BackendUnavailableError } from "../../errors.js";
import type { Logger } from "../../logger.js";

/** A bulk item's status that may succeed when sent again: the cluster overloaded (429) or failing (5xx). */
export function retryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Tries of a read whose target changed under it (a partition deleted by retention between resolution and search). */
export const READ_TRIES = 3;

/**
 * Whether a failed read may succeed when sent again: the cluster was briefly unavailable, or a partition
 * that the alias named when the search started was deleted before its shards answered.
 */
export function retryableRead(err: unknown): boolean {
  return err instanceof BackendUnavailableError || (err instanceof BackendError && err.status === 404);
}

/** A read, sent again after a backoff while it fails in a way that may pass, at most READ_TRIES times. */
export async function withReadRetries<T>(read: () => Promise<T>, logger: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= READ_TRIES || !retryableRead(err)) throw err;
      logger.info("read failed; sending it again", { attempt, error: (err as Error).message });
      await sleep(backoffMs(attempt - 1));
    }
  }
}
