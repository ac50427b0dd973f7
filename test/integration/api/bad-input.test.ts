import { expect } from "chai";
import { createApp } from "../../../src/api/app.js";
import { CursorCodec } from "../../../src/api/cursor.js";
import { Metrics } from "../../../src/api/metrics.js";
import { loadConfig } from "../../../src/config.js";
import { SearchEngineBackend } from "../../../src/storage/search-engine/backend.js";
import { ADMIN_KEY, startApi, type TestApi } from "../../support/api.js";
import { testLogger } from "../../support/cluster.js";
import { onDefaultEngine } from "../../support/engines.js";

const period = { begin: "2022-01-01T00:00:00Z", end: "2022-01-01T01:00:00Z" };
const point = { vol: { unit: "h", qty: 1 }, rating: { price: 1 }, groupby: { project_id: "p" }, metadata: {} };
const withPoint = (patch: Record<string, unknown>) => ({ dataframes: [{ period, usage: { cpu: [{ ...point, ...patch }] } }] });

interface Case {
  what: string;
  method?: "GET" | "POST";
  path: string;
  body?: string;
  contentType?: string;
  status: number;
  detailPath?: string;
}

/** Every bad input tried, and what it must get: a clear 4xx naming the field, never a 500. */
const CASES: Case[] = [
  { what: "malformed JSON", method: "POST", path: "/v2/dataframes", body: '{"dataframes": [', status: 400, detailPath: "(body)" },
  { what: "JSON that is not an object", method: "POST", path: "/v2/dataframes", body: "[1,2]", status: 400 },
  {
    what: "dataframes is a string",
    method: "POST",
    path: "/v2/dataframes",
    body: '{"dataframes":"x"}',
    status: 400,
    detailPath: "dataframes",
  },
  {
    what: "unknown top-level field",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [{ period, usage: {} }], extra: 1 }),
    status: 400,
  },
  {
    what: "qty is a word",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ vol: { unit: "h", qty: "lots" } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].vol.qty",
  },
  {
    what: "qty is 1e400 (parses to Infinity)",
    method: "POST",
    path: "/v2/dataframes",
    body: '{"dataframes":[{"period":{"begin":"2022-01-01T00:00:00Z","end":"2022-01-01T01:00:00Z"},"usage":{"cpu":[{"vol":{"unit":"h","qty":1e400},"rating":{"price":1},"groupby":{}}]}}]}',
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].vol.qty",
  },
  {
    what: "qty is 1e300 (huge)",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ vol: { unit: "h", qty: 1e300 } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].vol.qty",
  },
  {
    what: 'price is "NaN"',
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ rating: { price: "NaN" } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].rating.price",
  },
  {
    what: "price is a boolean",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ rating: { price: true } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].rating.price",
  },
  {
    what: "begin in year 0001",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [{ period: { ...period, begin: "0001-01-01T00:00:00Z" }, usage: {} }] }),
    status: 400,
    detailPath: "dataframes[0].period.begin",
  },
  {
    what: "end in year 20000",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [{ period: { ...period, end: "20000-01-01T00:00:00Z" }, usage: {} }] }),
    status: 400,
    detailPath: "dataframes[0].period.end",
  },
  {
    what: "end before begin",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [{ period: { begin: period.end, end: period.begin }, usage: {} }] }),
    status: 400,
    detailPath: "dataframes[0].period.end",
  },
  {
    what: "groupby key with a dot",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ groupby: { "a.b": "x" } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].groupby.a.b",
  },
  {
    what: "groupby key with *",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ groupby: { "a*": "x" } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].groupby.a*",
  },
  {
    what: "groupby key with a space",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ groupby: { "a b": "x" } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].groupby.a b",
  },
  {
    what: "nested object in metadata",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify(withPoint({ metadata: { x: { y: 1 } } })),
    status: 400,
    detailPath: "dataframes[0].usage.cpu[0].metadata.x",
  },
  {
    what: "script-like metric name",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [{ period, usage: { "<script>alert(1)</script>": [point] } }] }),
    status: 400,
  },
  {
    what: "wrong content type",
    method: "POST",
    path: "/v2/dataframes",
    body: "dataframes=1",
    contentType: "application/x-www-form-urlencoded",
    status: 415,
  },
  {
    what: "oversized body (over the limit)",
    method: "POST",
    path: "/v2/dataframes",
    body: JSON.stringify({ dataframes: [], pad: "x".repeat(3 * 1024 * 1024) }),
    status: 413,
  },
  { what: "begin not a date", path: "/v2/summary?begin=yesterday", status: 400, detailPath: "begin" },
  { what: "begin after end", path: "/v2/summary?begin=2022-02-01&end=2022-01-01", status: 400, detailPath: "end" },
  { what: "far date in query", path: "/v2/dataframes?begin=99999-01-01", status: 400, detailPath: "begin" },
  { what: "filter without a colon", path: "/v2/summary?filters=project_id", status: 400, detailPath: "filters" },
  { what: "filter key with *", path: "/v2/summary?filters=proj*:x", status: 400, detailPath: "filters.proj*" },
  {
    what: "filter key with a dot",
    path: "/v2/summary?filters=groupby.project_id:x",
    status: 400,
    detailPath: "filters.groupby.project_id",
  },
  { what: "filter key with a space", path: "/v2/summary?filters=project%20id:x", status: 400, detailPath: "filters.project id" },
  { what: "groupby key with a dot", path: "/v2/summary?groupby=a.b", status: 400, detailPath: "groupby" },
  { what: "unknown time option", path: "/v2/summary?groupby=time-h", status: 400, detailPath: "groupby" },
  { what: "limit is NaN", path: "/v2/summary?limit=NaN", status: 400, detailPath: "limit" },
  { what: "limit is huge", path: "/v2/dataframes?limit=100000000", status: 400, detailPath: "limit" },
  { what: "negative offset", path: "/v2/dataframes?offset=-1", status: 400, detailPath: "offset" },
  { what: "unknown query parameter", path: "/v2/summary?colour=red", status: 400 },
  { what: "cursor is garbage", path: "/v2/dataframes?cursor=abc.def", status: 400, detailPath: "cursor" },
  { what: "unknown route", path: "/v2/nothing", status: 404 },
];

onDefaultEngine("API: bad input gets a clear 4xx, never a 500", () => {
  let api: TestApi;
  const table: string[] = ["| input | status | field named |", "| --- | --- | --- |"];
  before(async () => {
    api = await startApi({ RATESTORE_MAX_BODY_BYTES: String(2 * 1024 * 1024) });
  });
  after(async () => {
    await api.close();
    if (process.env.RATESTORE_PRINT_BAD_INPUTS === "1") console.log(table.join("\n"));
  });

  for (const c of CASES) {
    it(`${c.what} -> ${c.status}`, async () => {
      const res = await fetch(api.url + c.path, {
        method: c.method ?? "GET",
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          ...(c.body !== undefined ? { "content-type": c.contentType ?? "application/json" } : {}),
        },
        ...(c.body !== undefined ? { body: c.body } : {}),
      });
      const body = (await res.json()) as { error: string; message: string; details: { path: string; message: string }[] };
      table.push(
        `| ${c.what} | ${res.status} ${body.error} | ${
          body.details
            .map((d) => `\`${d.path}\`: ${d.message}`)
            .join("; ")
            .slice(0, 160) || body.message.slice(0, 120)
        } |`,
      );
      expect(res.status, body.message).to.equal(c.status);
      expect(body.error).to.be.a("string");
      expect(body.message).to.be.a("string").with.length.greaterThan(0);
      if (c.detailPath) expect(body.details.map((d) => d.path)).to.include(c.detailPath);
    });
  }
});

onDefaultEngine("API: while OpenSearch is unreachable", () => {
  it("answers 503 with Retry-After, and /readyz says not ready", async () => {
    const config = loadConfig({ RATESTORE_CLUSTER_URL: "http://127.0.0.1:1", RATESTORE_CLUSTER_REQUEST_TIMEOUT_MS: "1000" });
    const backend = new SearchEngineBackend(config.storage, testLogger);
    const app = createApp({
      config,
      backend,
      operations: backend,
      logger: testLogger,
      cursors: new CursorCodec(),
      metrics: new Metrics(),
      cluster: {},
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const summary = await fetch(`${url}/v2/summary`);
      expect(summary.status).to.equal(503);
      expect(summary.headers.get("retry-after")).to.equal("5");
      expect(((await summary.json()) as { error: string }).error).to.equal("backend_unavailable");
      const push = await fetch(`${url}/v2/dataframes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ dataframes: [{ period, usage: { cpu: [point] } }] }),
      });
      expect(push.status).to.equal(503);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(((await ready.json()) as { cluster: { reachable: boolean } }).cluster.reachable).to.equal(false);
    } finally {
      server.close();
      await backend.close();
    }
  });
});
