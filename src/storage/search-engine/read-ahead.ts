/** Reading the next page while the caller consumes this one. */
import { setImmediate } from "node:timers/promises";

/**
 * Pages read one ahead: as soon as a page arrives, `next` sends the request for the following one
 * (undefined: there is none), so the cluster reads it while this page is converted and written; two
 * pages in memory at most. The request only reaches the socket on a later turn of the event loop, and
 * converting a page holds the loop for tens of milliseconds, so a turn is let pass before the page is
 * handed over: without it the cluster waited for the conversion (an export of 1,000,000 points took
 * 24 s in-process instead of 18 s, the time of a raw scan). A consumer that stops early leaves a
 * request in flight: it is let settle, so that the caller can then close its view or scroll.
 */
export async function* readAhead<P>(first: Promise<P>, next: (page: P) => Promise<P> | undefined): AsyncGenerator<P> {
  let pending: Promise<P> | undefined = first;
  try {
    while (pending) {
      const page: P = await pending;
      pending = next(page);
      if (pending) {
        // Awaited once the page is used; a failure meanwhile must not count as unhandled (that ends the process).
        pending.catch(() => undefined);
        await setImmediate();
      }
      yield page;
    }
  } finally {
    await pending?.then(
      () => undefined,
      () => undefined,
    );
  }
}
