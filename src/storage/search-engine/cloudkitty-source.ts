/** CloudKitty's index on a cluster, read as a migration source. */
import type { ClusterConfig } from "../../config.js";
import type { CloudKittySource, SourceDay, SourceDocument } from "../cloudkitty-source.js";
import { ClusterClient } from "./client.js";
import { readAhead } from "./read-ahead.js";

const DAY = 86_400_000;
const PAGE = 5000;
const SCROLL = "5m";

interface ScrollResponse {
  _scroll_id?: string;
  hits: { hits: { _id: string; _source?: unknown }[] };
}

interface DaysResponse {
  aggregations?: { days?: { buckets: { key: number; doc_count: number }[] } };
}

/**
 * A CloudKitty index on any engine. Days come from a date histogram on `start` (a core aggregation);
 * each day is read with a scroll in `_doc` order, the cheapest scan every engine and version has, and
 * the one CloudKitty itself uses. A day is the unit of resumption: one that was cut off is read again.
 */
export class CloudKittyIndexSource implements CloudKittySource {
  private readonly client: ClusterClient;

  constructor(
    config: ClusterConfig,
    private readonly index: string,
  ) {
    this.client = new ClusterClient(config);
  }

  get name(): string {
    return `${this.client.safeUrls[0] ?? ""}${this.index}`;
  }

  async days(window: { begin?: number; end?: number }): Promise<SourceDay[]> {
    const range = {
      ...(window.begin !== undefined ? { gte: window.begin } : {}),
      ...(window.end !== undefined ? { lt: window.end } : {}),
      format: "epoch_millis",
    };
    const res = await this.client.request<DaysResponse>({
      method: "POST",
      path: `/${this.index}/_search`,
      body: {
        size: 0,
        query: { range: { start: range } },
        aggs: { days: { date_histogram: { field: "start", calendar_interval: "day", min_doc_count: 1 } } },
      },
    });
    return (res.body.aggregations?.days?.buckets ?? []).map((b) => ({
      start: Math.max(b.key, window.begin ?? b.key),
      end: Math.min(b.key + DAY, window.end ?? b.key + DAY),
      documents: b.doc_count,
    }));
  }

  documents(start: number, end: number): AsyncGenerator<SourceDocument[]> {
    return this.scan({ range: { start: { gte: start, lt: end, format: "epoch_millis" } } });
  }

  documentsWithoutStart(): AsyncGenerator<SourceDocument[]> {
    return this.scan({ bool: { must_not: [{ exists: { field: "start" } }] } });
  }

  private async *scan(query: Record<string, unknown>): AsyncGenerator<SourceDocument[]> {
    let scrollId: string | undefined;
    const first = this.client.request<ScrollResponse>({
      method: "POST",
      path: `/${this.index}/_search`,
      querystring: { scroll: SCROLL },
      body: { size: PAGE, sort: ["_doc"], query },
    });
    // The next page is asked for before this one is converted and pushed (see readAhead); an empty page ends the scroll.
    const following = (res: ScrollResponse) => {
      scrollId = res._scroll_id ?? scrollId;
      return res.hits.hits.length > 0 && scrollId
        ? this.client
            .request<ScrollResponse>({ method: "POST", path: "/_search/scroll", body: { scroll: SCROLL, scroll_id: scrollId } })
            .then((r) => r.body)
        : undefined;
    };
    try {
      for await (const res of readAhead(
        first.then((r) => r.body),
        following,
      )) {
        if (res.hits.hits.length === 0) return;
        yield res.hits.hits.map((h) => ({ id: h._id, source: h._source }));
      }
    } finally {
      if (scrollId)
        await this.client
          .request({ method: "DELETE", path: "/_search/scroll", body: { scroll_id: [scrollId] } }, [404])
          .catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
