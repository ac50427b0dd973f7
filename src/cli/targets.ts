/** Where ingestion writes: the storage library or the HTTP API. */
import type { PushResult, StorageBackend, StorageOperations } from "../storage/backend.js";
import { pointsWithIndex, type DataFrame } from "../storage/dataframe.js";
import { BackendUnavailableError } from "../errors.js";
import { backoffMs, sleep } from "../backoff.js";

/** Where ingestion writes: straight to the cluster through the storage library, or through the HTTP API. */
export interface PushTarget {
  /** `raw` holds the records' original JSON texts, in the same order as `frames`. */
  push(frames: readonly DataFrame[], raw: readonly string[]): Promise<PushResult>;
  /** Makes everything pushed so far visible to reads: pushes skip that, to load faster. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export class StorageTarget implements PushTarget {
  constructor(private readonly backend: StorageBackend & Pick<StorageOperations, "refresh">) {}
  push(frames: readonly DataFrame[]): Promise<PushResult> {
    return this.backend.push(frames, { refresh: false });
  }
  refresh(): Promise<void> {
    return this.backend.refresh();
  }
  close(): Promise<void> {
    return this.backend.close();
  }
}

interface ApiFailure {
  message?: string;
  details?: { path: string; message: string; outcome?: string }[];
  stored?: number;
  duplicates?: number;
}

const POINT_PATH_RE = /^dataframes\[(\d+)\]\.usage\.(.+)\[(\d+)\]$/;

/** POST /v2/dataframes, sending the records as they were read; 429/503 are retried with backoff. */
export class ApiTarget implements PushTarget {
  constructor(
    private readonly url: string,
    private readonly key: string | undefined,
    private readonly retries = 8,
  ) {}

  async push(frames: readonly DataFrame[], raw: readonly string[]): Promise<PushResult> {
    const points = frames.reduce((n, f) => n + f.points.length, 0);
    const body = `{"dataframes":[${raw.join(",")}]}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(new URL("/v2/dataframes?refresh=false", this.url), {
          method: "POST",
          headers: { "content-type": "application/json", ...(this.key ? { authorization: `Bearer ${this.key}` } : {}) },
          body,
        });
      } catch (err) {
        if (attempt >= this.retries) throw new BackendUnavailableError(`API unreachable at ${this.url}`, 5, { cause: err });
        await sleep(backoffMs(attempt));
        continue;
      }
      if (res.status === 204) return { points, stored: points, duplicates: 0, failed: [], unknown: [] };
      const failure = (await res.json().catch(() => ({}))) as ApiFailure;
      if ((res.status === 429 || res.status === 503) && attempt < this.retries) {
        await sleep(Math.max(backoffMs(attempt), Number(res.headers.get("retry-after") ?? 0) * 1000));
        continue;
      }
      if (res.status === 422 || res.status === 503) {
        // Some points were not stored: map each reported path back to its dataframe and point.
        const points_ = (outcome: string) =>
          (failure.details ?? []).flatMap((d) => {
            const m = POINT_PATH_RE.exec(d.path);
            return m && (d.outcome ?? "not_stored") === outcome
              ? [{ dataframe: Number(m[1]), type: m[2]!, index: Number(m[3]), status: res.status, reason: d.message }]
              : [];
          });
        return {
          points,
          stored: failure.stored ?? 0,
          duplicates: failure.duplicates ?? 0,
          failed: points_("not_stored"),
          unknown: points_("unknown"),
        };
      }
      // The whole request was refused (403 scope, 400...): every point of it is rejected, with the reason.
      const reason = `${res.status}: ${failure.message ?? res.statusText}`;
      return {
        points,
        stored: 0,
        duplicates: 0,
        failed: frames.flatMap((f, i) =>
          [...pointsWithIndex(f)].map(([p, index]) => ({ dataframe: i, type: p.type, index, status: res.status, reason })),
        ),
        unknown: [],
      };
    }
  }

  async refresh(): Promise<void> {
    const res = await fetch(new URL("/v2/refresh", this.url), {
      method: "POST",
      headers: this.key ? { authorization: `Bearer ${this.key}` } : {},
    });
    if (!res.ok)
      throw new BackendUnavailableError(
        `POST /v2/refresh answered ${res.status}: the points are stored and become visible within the refresh interval`,
      );
  }

  async close(): Promise<void> {}
}
