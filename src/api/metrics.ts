import type { WriteStats } from "../storage/backend.js";

/** Prometheus text exposition, written by hand: one histogram and a few counters do not need a library. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Series {
  labels: string;
  counts: number[];
  sum: number;
  count: number;
}

const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export class Metrics {
  private readonly latency = new Map<string, Series>();

  observe(route: string, method: string, status: number, seconds: number): void {
    const labels = `route="${escape(route)}",method="${method}",status="${status}"`;
    let s = this.latency.get(labels);
    if (!s) {
      s = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(labels, s);
    }
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) s.counts[i]!++;
    });
    s.sum += seconds;
    s.count++;
  }

  render(stats: Readonly<WriteStats>): string {
    const out: string[] = [];
    out.push("# HELP ratestore_http_request_duration_seconds HTTP request latency by route and status.");
    out.push("# TYPE ratestore_http_request_duration_seconds histogram");
    for (const s of this.latency.values()) {
      BUCKETS.forEach((b, i) => out.push(`ratestore_http_request_duration_seconds_bucket{${s.labels},le="${b}"} ${s.counts[i]}`));
      out.push(`ratestore_http_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${s.count}`);
      out.push(`ratestore_http_request_duration_seconds_sum{${s.labels}} ${s.sum}`);
      out.push(`ratestore_http_request_duration_seconds_count{${s.labels}} ${s.count}`);
    }
    const counter = (name: string, help: string, value: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    counter("ratestore_points_stored_total", "Points newly stored.", stats.stored);
    counter("ratestore_points_duplicate_total", "Points pushed again and not stored twice.", stats.duplicates);
    counter("ratestore_points_failed_total", "Points that could not be stored (reported to the client).", stats.failed);
    counter("ratestore_bulk_retries_total", "Bulk requests or items retried after 429/5xx.", stats.retries);
    counter("ratestore_bulk_requests_total", "Bulk requests sent.", stats.bulkRequests);
    return out.join("\n") + "\n";
  }
}
