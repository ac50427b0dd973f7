/** Read-your-writes: the refresh before every read, shared by concurrent reads. */
import { BackendUnavailableError } from "../../errors.js";
import type { RefreshCause, StorageObserver } from "../backend.js";
import type { ClusterClient } from "./client.js";
import type { Partitions } from "./partitions.js";
import { SharedRefresh } from "./shared-refresh.js";

/** Beyond this many partitions in a window, the alias is refreshed instead of naming each one. */
const MAX_NAMED = 16;

interface RefreshResponse {
  _shards?: { total?: number; successful?: number; failed?: number };
}

/**
 * Read-your-writes, paid for by reads. A push answers once the cluster has stored its points; before
 * every read, the partitions the read can see are refreshed, so the read sees every push that answered
 * before it started, through any instance (the refresh is the cluster's, not this process's). A refresh
 * with nothing new to show costs a few milliseconds; one after pushes makes all of them visible at once.
 * Refreshing per push instead costs every push a new segment, and a large share of raw `_bulk`'s
 * throughput (BENCHMARKS.md, *Read-your-writes*), while a billing store is pushed to far more often than read.
 */
export class Refresher {
  /** Refreshes in flight, by the partitions they cover: concurrent reads of the same partitions share them. */
  private readonly shared = new Map<string, SharedRefresh>();

  constructor(
    private readonly client: ClusterClient,
    private readonly partitions: Partitions,
    private readonly observer: StorageObserver,
  ) {}

  /** Before a read of points starting in [begin, end): every acknowledged write there becomes searchable. */
  async beforeRead(window: { readonly begin?: number; readonly end?: number }): Promise<void> {
    const named =
      window.begin !== undefined && window.end !== undefined
        ? this.partitions.indicesBetween(window.begin, window.end, MAX_NAMED)
        : undefined;
    if (named?.length === 0) return;
    await this.refresh(named ?? [this.partitions.alias], "read");
  }

  /** Every partition, before a read of all of them. */
  all(): Promise<void> {
    return this.refresh([this.partitions.alias], "read");
  }

  /**
   * The named partitions (absent ones are skipped), shared with concurrent requests for the same ones.
   * Throws BackendUnavailableError when a shard copy was not refreshed.
   */
  refresh(indices: readonly string[], cause: RefreshCause): Promise<void> {
    const key = indices.join(",");
    let shared = this.shared.get(key);
    if (!shared) {
      shared = new SharedRefresh(
        () => this.send(key, cause),
        () => this.shared.delete(key),
      );
      this.shared.set(key, shared);
    }
    return shared.request();
  }

  private async send(indices: string, cause: RefreshCause): Promise<void> {
    const started = performance.now();
    const res = await this.client.request<RefreshResponse>(
      { method: "POST", path: `/${indices}/_refresh`, querystring: { ignore_unavailable: true, allow_no_indices: true } },
      [404],
    );
    this.observer.refresh((performance.now() - started) / 1000, cause);
    const failed = res.body._shards?.failed ?? 0;
    // A shard copy left unrefreshed could answer a read without the latest writes: say so rather than answer short.
    if (failed > 0)
      throw new BackendUnavailableError(
        `refreshing ${indices} failed on ${failed} shard copies: a search now could miss acknowledged writes`,
      );
  }
}
