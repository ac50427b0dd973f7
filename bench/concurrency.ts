/** Runs `fn` over `items` with at most `k` calls in flight, in order of the items. */
export async function withConcurrency<T>(items: readonly T[], k: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: k }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
