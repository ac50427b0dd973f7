import { expect } from "chai";
import { startApi, type TestApi } from "../../support/api.js";
import { forEachEngine } from "../../support/engines.js";

/** CloudKitty's v2 API scenarios (dataframes and summary), over HTTP, against the real node. */
const frame = (begin: string, end: string, project: string, price: number) => ({
  period: { begin, end },
  usage: {
    metric_one: [
      { vol: { unit: "GiB", qty: 1.2 }, rating: { price }, groupby: { project_id: project, id: "r1" }, metadata: { flavor: "small" } },
      {
        vol: { unit: "GiB", qty: 5 },
        rating: { price: price * 2 },
        groupby: { project_id: project, id: "r2" },
        metadata: { flavor: "large" },
      },
    ],
    metric_two: [{ vol: { unit: "MB", qty: 200 }, rating: { price: 4 }, groupby: { project_id: project, id: "r3" }, metadata: {} }],
  },
});
const FRAMES = [
  frame("20190101T000000Z", "20190101T010000Z", "proj-a", 1),
  frame("2019-01-01T01:00:00Z", "2019-01-01T02:00:00Z", "proj-b", 0.1),
];
const WINDOW = "begin=2019-01-01T00:00:00Z&end=2019-01-01T02:00:00Z";

forEachEngine("API: CloudKitty v2 scenarios", () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
    const res = await api.call("/v2/dataframes", { json: { dataframes: FRAMES } });
    expect(res.status).to.equal(204);
    await api.backend.client.request({ method: "POST", path: `/${api.backend.partitions.alias}/_refresh` });
  });
  after(async () => api.close());

  describe("POST /v2/dataframes", () => {
    it("rejects an empty list with CloudKitty's message", async () => {
      const res = await api.call("/v2/dataframes", { json: { dataframes: [] } });
      expect(res.status).to.equal(400);
      const body = (await res.json()) as { message: string; details: { path: string; message: string }[] };
      expect(body.details).to.deep.equal([{ path: "dataframes", message: "Parameter dataframes must not be empty." }]);
      expect(body.message).to.include("Parameter dataframes must not be empty.");
    });

    it("rejects a dataframe missing usage, naming it", async () => {
      const res = await api.call("/v2/dataframes", { json: { dataframes: [{ period: FRAMES[0]!.period }] } });
      expect(res.status).to.equal(400);
      const body = (await res.json()) as { details: { path: string }[] };
      expect(body.details.map((d) => d.path)).to.deep.equal(["dataframes[0].usage"]);
    });

    it("rejects points missing rating or groupby, naming each", async () => {
      const bad = {
        period: FRAMES[0]!.period,
        usage: {
          metric_one: [
            { vol: { unit: "u", qty: 1 }, rating: { price: 1 }, groupby: {} },
            { vol: { unit: "u", qty: 1 }, groupby: {} },
            { vol: { unit: "u", qty: 1 }, rating: { price: 1 } },
          ],
        },
      };
      const res = await api.call("/v2/dataframes", { json: { dataframes: [FRAMES[0], bad] } });
      expect(res.status).to.equal(400);
      const body = (await res.json()) as { details: { path: string }[] };
      expect(body.details.map((d) => d.path)).to.deep.equal([
        "dataframes[1].usage.metric_one[1].rating",
        "dataframes[1].usage.metric_one[2].groupby",
      ]);
    });

    it("stores nothing twice when a client retries", async () => {
      const again = await api.call("/v2/dataframes", { json: { dataframes: FRAMES } });
      expect(again.status).to.equal(204);
      await api.backend.client.request({ method: "POST", path: `/${api.backend.partitions.alias}/_refresh` });
      const body = (await (await api.call(`/v2/dataframes?${WINDOW}`)).json()) as { total: number };
      expect(body.total).to.equal(6);
    });
  });

  describe("GET /v2/dataframes", () => {
    it("returns CloudKitty's format", async () => {
      const res = await api.call(`/v2/dataframes?${WINDOW}`);
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { total: number; dataframes: { period: { begin: string }; usage: Record<string, unknown[]> }[] };
      expect(body.total).to.equal(6);
      expect(body.dataframes.map((d) => d.period.begin)).to.deep.equal(["2019-01-01T00:00:00+00:00", "2019-01-01T01:00:00+00:00"]);
      expect(body.dataframes[0]!.usage.metric_one).to.have.length(2);
      expect(body.dataframes[0]!.usage.metric_one).to.deep.include({
        vol: { unit: "GiB", qty: 1.2 },
        rating: { price: 1 },
        groupby: { project_id: "proj-a", id: "r1" },
        metadata: { flavor: "small" },
      });
    });

    it("selects metric types with the type filter and other keys with filters", async () => {
      const types = (await (await api.call(`/v2/dataframes?${WINDOW}&filters=type:metric_two`)).json()) as { total: number };
      expect(types.total).to.equal(2);
      const flavor = (await (await api.call(`/v2/dataframes?${WINDOW}&filters=flavor:large,project_id:proj-b`)).json()) as {
        total: number;
      };
      expect(flavor.total).to.equal(1);
      const either = (await (await api.call(`/v2/dataframes?${WINDOW}&filters=id:r1&filters=id:r3`)).json()) as { total: number };
      expect(either.total).to.equal(4);
    });

    it("answers 404 when nothing matches, as CloudKitty does", async () => {
      const res = await api.call("/v2/dataframes?begin=2018-01-01T00:00:00Z&end=2018-01-02T00:00:00Z");
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { error: string }).error).to.equal("not_found");
    });

    it("pages by offset and limit", async () => {
      const page = (await (await api.call(`/v2/dataframes?${WINDOW}&offset=4&limit=4`)).json()) as {
        total: number;
        dataframes: { usage: Record<string, unknown[]> }[];
      };
      expect(page.total).to.equal(6);
      expect(page.dataframes.flatMap((d) => Object.values(d.usage).flat())).to.have.length(2);
    });
  });

  describe("GET /v2/summary", () => {
    type Table = { total: number; columns: string[]; results: (string | number | null)[][]; format: string };
    const get = async (q: string) => {
      const res = await api.call(`/v2/summary?${WINDOW}&${q}`);
      expect(res.status, q).to.equal(200);
      return (await res.json()) as Table;
    };

    it("with no groupby: one row", async () => {
      const t = await get("");
      expect(t.total).to.equal(1);
      expect(t.columns).to.deep.equal(["begin", "end", "qty", "rate"]);
      // qty 1.2+5+200 per frame; rate 1+2+4 and 0.1+0.2+4: exact decimals, no float noise.
      expect(t.results).to.deep.equal([["2019-01-01T00:00:00+00:00", "2019-01-01T02:00:00+00:00", 412.4, 11.3]]);
      expect(t.format).to.equal("table");
    });

    it("by project_id", async () => {
      const t = await get("groupby=project_id");
      expect(t.columns).to.deep.equal(["begin", "end", "qty", "rate", "project_id"]);
      expect(t.results.map((r) => [r[4], r[3]])).to.deep.equal([
        ["proj-a", 7],
        ["proj-b", 4.3],
      ]);
    });

    it("by type", async () => {
      const t = await get("groupby=type");
      expect(t.results.map((r) => [r[4], r[3]])).to.deep.equal([
        ["metric_one", 3.3],
        ["metric_two", 8],
      ]);
    });

    it("by type,project_id with limit 5 at offsets 0 and 5: total unchanged", async () => {
      const all = await get("groupby=type,project_id&limit=100");
      expect(all.total).to.equal(4);
      const p1 = await get("groupby=type&groupby=project_id&limit=2&offset=0");
      const p2 = await get("groupby=type&groupby=project_id&limit=2&offset=2");
      expect(p1.total).to.equal(4);
      expect(p2.total).to.equal(4);
      expect([...p1.results, ...p2.results]).to.deep.equal(all.results);
      const five = await get("groupby=type,project_id&limit=5&offset=5");
      expect(five.total).to.equal(4);
      expect(five.results).to.deep.equal([]);
    });

    it("for a period with no data: no groups; ungrouped, one row of zeros in both formats, as CloudKitty's OpenSearch backend", async () => {
      const res = await api.call("/v2/summary?begin=2018-01-01T00:00:00Z&end=2018-01-02T00:00:00Z&groupby=project_id");
      expect(await res.json()).to.deep.equal({
        columns: ["begin", "end", "qty", "rate", "project_id"],
        results: [],
        total: 0,
        format: "table",
      });
      const table = await api.call("/v2/summary?begin=2018-01-01T00:00:00Z&end=2018-01-02T00:00:00Z");
      expect(await table.json()).to.deep.equal({
        columns: ["begin", "end", "qty", "rate"],
        results: [["2018-01-01T00:00:00+00:00", "2018-01-02T00:00:00+00:00", 0, 0]],
        total: 1,
        format: "table",
      });
      const object = await api.call("/v2/summary?begin=2018-01-01T00:00:00Z&end=2018-01-02T00:00:00Z&response_format=object");
      expect(await object.json()).to.deep.equal({
        results: [{ begin: "2018-01-01T00:00:00+00:00", end: "2018-01-02T00:00:00+00:00", qty: 0, rate: 0 }],
        total: 1,
        format: "object",
      });
    });

    it("grouped by time", async () => {
      const t = await get("groupby=time");
      expect(t.columns).to.deep.equal(["begin", "end", "qty", "rate"]);
      expect(t.results.map((r) => [r[0], r[1], r[3]])).to.deep.equal([
        ["2019-01-01T00:00:00+00:00", "2019-01-01T01:00:00+00:00", 7],
        ["2019-01-01T01:00:00+00:00", "2019-01-01T02:00:00+00:00", 4.3],
      ]);
    });

    it("in object format, with custom_fields", async () => {
      const res = await api.call(`/v2/summary?${WINDOW}&groupby=project_id&response_format=object&custom_fields=SUM(price) AS rate`);
      const body = (await res.json()) as { results: Record<string, unknown>[]; format: string };
      expect(body.format).to.equal("object");
      expect(body.results[0]).to.deep.equal({
        begin: "2019-01-01T00:00:00+00:00",
        end: "2019-01-01T02:00:00+00:00",
        rate: 7,
        project_id: "proj-a",
      });
    });

    it("rejects an unknown format or time option with 400", async () => {
      for (const q of ["response_format=csv", "groupby=time-q", "custom_fields=max(qty)", "limit=0", "limit=abc", "unknown=1"]) {
        const res = await api.call(`/v2/summary?${WINDOW}&${q}`);
        expect(res.status, q).to.equal(400);
      }
    });
  });

  describe("service routes", () => {
    it("/healthz, /readyz, /openapi.json and /metrics answer without a key", async () => {
      expect((await api.call("/healthz", { key: null })).status).to.equal(200);
      const ready = await api.call("/readyz", { key: null });
      expect(ready.status).to.equal(200);
      expect(((await ready.json()) as { templates_installed: boolean }).templates_installed).to.equal(true);
      const doc = (await (await api.call("/openapi.json", { key: null })).json()) as {
        paths: Record<string, Record<string, { parameters?: { name: string }[] }>>;
      };
      expect(Object.keys(doc.paths)).to.include.members(["/v2/dataframes", "/v2/summary", "/v2/dataframes/export"]);
      expect(doc.paths["/v2/summary"]!.get!.parameters!.map((p) => p.name)).to.include.members([
        "groupby",
        "filters",
        "response_format",
        "cursor",
      ]);
      const metrics = await (await api.call("/metrics", { key: null })).text();
      expect(metrics).to.match(
        /ratestore_http_request_duration_seconds_bucket\{le="0.1",route="\/v2\/summary",method="GET",status="200"\} \d+/,
      );
      expect(metrics).to.match(/ratestore_bulk_request_duration_seconds_count\{outcome="ok"\} [1-9]/);
      expect(metrics).to.match(/ratestore_bulk_points_total\{outcome="ok"\} 12/);
      // The summaries read above each refreshed their partitions first.
      expect(metrics).to.match(/^ratestore_refresh_duration_seconds_count\{cause="read"\} [1-9]/m);
      expect(metrics).to.match(/^ratestore_process_resident_memory_bytes \d+/m);
      expect(metrics).to.match(/ratestore_points_stored_total 6/);
      expect(metrics).to.match(/ratestore_points_duplicate_total 6/);
    });
  });
});
