import { expect } from "chai";
import { Metrics } from "../../src/api/metrics.js";

describe("metrics (prom-client)", () => {
  it("escapes label values as Prometheus requires, and reads the writer's totals at scrape time", async () => {
    const m = new Metrics();
    let stored = 1;
    m.readStatsFrom(() => ({ stored, duplicates: 0, failed: 0, retries: 0, bulkRequests: 1 }));
    m.observe('/v2/x"y\\z\nw', "GET", 200, 0.05);
    m.bulkRequest(0.2, 100, "items_retried");
    m.refresh(0.004, "read");
    m.refresh(0.3, "push");
    stored = 7;
    const text = await m.render();
    expect(text).to.include('route="/v2/x\\"y\\\\z\\nw"');
    expect(text).to.match(/^ratestore_points_stored_total 7$/m);
    expect(text).to.match(/^ratestore_bulk_request_duration_seconds_bucket\{le="0.25",outcome="items_retried"\} 1$/m);
    expect(text).to.match(/^ratestore_bulk_points_total\{outcome="items_retried"\} 100$/m);
    expect(text).to.match(/^ratestore_refresh_duration_seconds_bucket\{le="0.005",cause="read"\} 1$/m);
    expect(text).to.match(/^ratestore_refresh_duration_seconds_bucket\{le="0.0025",cause="read"\} 0$/m);
    expect(text).to.match(/^ratestore_refresh_duration_seconds_count\{cause="push"\} 1$/m);
    expect(text).not.to.match(/cause="delete"/);
    expect(text).to.match(/^ratestore_process_cpu_seconds_total /m);
    expect(m.contentType).to.match(/^text\/plain; version=0.0.4/);
  });
});
