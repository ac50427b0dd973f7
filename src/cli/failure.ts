/** The one line the command line prints for an error: its message and the causes that explain it. */

/**
 * "fetch failed: connect ECONNREFUSED 127.0.0.1:8080" rather than "fetch failed": Node's network errors
 * put the reason in `cause`, which a bare message hides.
 */
export function describeFailure(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
