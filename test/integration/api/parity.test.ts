import { expect } from "chai";
import { ADMIN_KEY, PROJECT_A_KEY, startApi, type TestApi } from "../../support/api.js";
import { dec, HOUR, manyPoints, wireFrames } from "../../support/data.js";
import { venvPython, venvTool } from "../../support/python.js";
import { retrieve } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

/** CloudKitty parity over HTTP: read-your-writes, any limit, delete, retention that never loses acknowledged data, exact decimals. */

const iso = (ms: number) => new Date(ms).toISOString();
const window = (begin: number, end: number) => `begin=${encodeURIComponent(iso(begin))}&end=${encodeURIComponent(iso(end))}`;
const T = Date.parse("2024-06-01T00:00:00Z");

interface Table {
  total: number;
  columns: string[];
  results: unknown[][];
}

forEachEngine("API parity: read-your-writes across instances", function () {
  this.timeout(300_000);
  let writer: TestApi;
  let reader: TestApi;
  before(async () => {
    writer = await startApi();
    // A second instance on the same cluster and partitions: what a load balancer gives a client.
    reader = await startApi({}, undefined, { indexPrefix: writer.backend.config.indexPrefix });
  });
  after(async () => {
    await reader.close();
    await writer.close();
  });

  it("each of 100 pushes through one instance is seen at once by reads through the other", async () => {
    let expected = 0;
    for (let i = 0; i < 100; i++) {
      const n = 1 + (i % 7) * 13;
      const frames = manyPoints(n, { spanHours: 1, start: T + i * HOUR });
      const push = await writer.call("/v2/dataframes", { json: { dataframes: wireFrames(frames) } });
      expect(push.status, await push.clone().text()).to.equal(204);
      expected += n;
      const page = (await (await reader.call(`/v2/dataframes?${window(T, T + 100 * HOUR)}&limit=1`)).json()) as { total: number };
      expect(page.total, `iteration ${i}`).to.equal(expected);
      const own = (await (await reader.call(`/v2/dataframes?${window(T + i * HOUR, T + (i + 1) * HOUR)}&limit=1000`)).json()) as {
        total: number;
      };
      expect(own.total, `iteration ${i}`).to.equal(n);
    }
    const summary = (await (await reader.call(`/v2/summary?${window(T, T + 100 * HOUR)}`)).json()) as Table;
    expect(summary.results[0]![2]).to.equal(expected);
  });

  it("whatever refresh says, reads through either instance see the push at once; refresh=true also shows it to direct readers", async () => {
    const start = T + 500 * HOUR;
    for (const [i, mode] of ["false", "wait_for", "true"].entries()) {
      const at = start + i * HOUR;
      const push = await writer.call(`/v2/dataframes?refresh=${mode}`, {
        json: { dataframes: wireFrames(manyPoints(50, { spanHours: 1, start: at })) },
      });
      expect(push.status).to.equal(204);
      const page = (await (await reader.call(`/v2/dataframes?${window(at, at + HOUR)}`)).json()) as { total: number };
      expect(page.total, `refresh=${mode}`).to.equal(50);
    }
    // Dashboards and Kibana search the indices themselves: refresh=true is what makes a push visible to them at once.
    const at = start + 3 * HOUR;
    await writer.call("/v2/dataframes?refresh=true", { json: { dataframes: wireFrames(manyPoints(40, { spanHours: 1, start: at })) } });
    const direct = await writer.backend.client.request<{ count: number }>({
      method: "POST",
      path: `/${writer.backend.partitions.alias}/_count`,
      body: { query: { range: { start: { gte: at, lt: at + HOUR, format: "epoch_millis" } } } },
    });
    expect(direct.body.count).to.equal(40);
    // Both refresh=true pushes refreshed what they wrote, through the same refresher as reads (and its shard checks).
    const metrics = await (await writer.call("/metrics", { key: null })).text();
    expect(metrics).to.match(/^ratestore_refresh_duration_seconds_count\{cause="push"\} 2$/m);
    expect((await reader.call("/v2/refresh", { method: "POST" })).status).to.equal(204);
    const bad = await writer.call("/v2/dataframes?refresh=later", { json: { dataframes: wireFrames(manyPoints(1, { start: at })) } });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { details: { path: string }[] }).details[0]!.path).to.equal("refresh");
  });

  it("concurrent reads right after a push all see it, and share their refreshes", async () => {
    const start = T + 800 * HOUR;
    const push = await writer.call("/v2/dataframes", { json: { dataframes: wireFrames(manyPoints(60, { spanHours: 1, start })) } });
    expect(push.status).to.equal(204);
    const { backend } = reader;
    const send = backend.client.request.bind(backend.client);
    let refreshes = 0;
    backend.client.request = ((...args: Parameters<typeof send>) => {
      if (args[0].path.endsWith("/_refresh")) refreshes++;
      return send(...args);
    }) as typeof send;
    try {
      // 40 reads started together (no timing involved): the first starts a refresh, and the other 39,
      // which arrived while it ran, share the one refresh queued after it.
      const pages = await Promise.all(Array.from({ length: 40 }, () => retrieve(backend, { begin: start, end: start + HOUR, limit: 1 })));
      expect(pages.map((p) => p.total)).to.deep.equal(Array.from({ length: 40 }, () => 60));
      expect(refreshes).to.equal(2);
    } finally {
      backend.client.request = send;
    }
  });

  it("a delete right after a push, through the other instance, deletes every point of it", async () => {
    for (let i = 0; i < 20; i++) {
      const start = T + (700 + i) * HOUR;
      const push = await writer.call("/v2/dataframes", { json: { dataframes: wireFrames(manyPoints(25, { spanHours: 1, start })) } });
      expect(push.status).to.equal(204);
      const del = await reader.call(`/v2/dataframes?${window(start, start + HOUR)}`, { method: "DELETE" });
      expect(await del.json(), `iteration ${i}`).to.deep.equal({ deleted: 25 });
    }
  });

  it("a delete is seen at once by reads through the other instance", async () => {
    const start = T + 600 * HOUR;
    await writer.call("/v2/dataframes", { json: { dataframes: wireFrames(manyPoints(30, { spanHours: 1, start })) } });
    const del = await writer.call(`/v2/dataframes?${window(start, start + HOUR)}`, { method: "DELETE" });
    expect(await del.json()).to.deep.equal({ deleted: 30 });
    expect((await reader.call(`/v2/dataframes?${window(start, start + HOUR)}`)).status).to.equal(404);
  });
});

forEachEngine("API parity: DELETE /v2/dataframes", function () {
  this.timeout(120_000);
  let api: TestApi;
  const B = Date.parse("2024-07-01T00:00:00Z");
  const point = (project: string, flavor: string, qty: string) => ({
    vol: { unit: "h", qty },
    rating: { price: "1" },
    groupby: { project_id: project, id: `${project}-${flavor}-${qty}` },
    metadata: { flavor },
  });
  // Three hourly periods; in each, proj-a and proj-b, flavors small and large, two metric types.
  const frames = [0, 1, 2].map((h) => ({
    period: { begin: iso(B + h * HOUR), end: iso(B + (h + 1) * HOUR) },
    usage: {
      cpu: [point("proj-a", "small", "1"), point("proj-a", "large", "2"), point("proj-b", "small", "3")],
      ram: [point("proj-a", "small", "4"), point("proj-b", "large", "5")],
    },
  }));
  const count = async (query: string) => {
    const res = await api.call(`/v2/dataframes?${window(B, B + 3 * HOUR)}&limit=1000${query ? "&" + query : ""}`);
    return res.status === 404 ? 0 : ((await res.json()) as { total: number }).total;
  };

  beforeEach(async () => {
    api = await startApi();
    expect((await api.call("/v2/dataframes", { json: { dataframes: frames } })).status).to.equal(204);
    expect(await count("")).to.equal(15);
  });
  afterEach(async () => api.close());

  it("honours a filter on a metadata key, and answers the count", async () => {
    const res = await api.call(`/v2/dataframes?${window(B, B + 3 * HOUR)}&filters=flavor:large`, { method: "DELETE" });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ deleted: 6 });
    expect(await count("")).to.equal(9);
    expect(await count("filters=flavor:large")).to.equal(0);
  });

  it("honours groupby and type filters together", async () => {
    const res = await api.call(`/v2/dataframes?filters=project_id:proj-a,type:cpu`, { method: "DELETE" });
    expect(await res.json()).to.deep.equal({ deleted: 6 });
    expect(await count("filters=project_id:proj-a")).to.equal(3);
    expect(await count("filters=project_id:proj-b")).to.equal(6);
  });

  it("deletes inside the window only: start >= begin and end <= end", async () => {
    // The middle period exactly; its neighbours touch the boundaries and stay.
    const res = await api.call(`/v2/dataframes?${window(B + HOUR, B + 2 * HOUR)}`, { method: "DELETE" });
    expect(await res.json()).to.deep.equal({ deleted: 5 });
    expect(await count("")).to.equal(10);
    // A window that cuts through periods deletes none of them.
    const cut = await api.call(`/v2/dataframes?${window(B + HOUR / 2, B + 3 * HOUR - HOUR / 2)}`, { method: "DELETE" });
    expect(await cut.json()).to.deep.equal({ deleted: 0 });
  });

  it("a deleted point is gone at once from retrieve, summary and export", async () => {
    await api.call(`/v2/dataframes?filters=project_id:proj-b`, { method: "DELETE" });
    const summary = (await (await api.call(`/v2/summary?${window(B, B + 3 * HOUR)}&groupby=project_id`)).json()) as Table;
    expect(summary.results.map((r) => r[4])).to.deep.equal(["proj-a"]);
    const exported = await (await api.call(`/v2/dataframes/export?${window(B, B + 3 * HOUR)}`)).text();
    expect(exported).to.not.include("proj-b");
    expect(exported.trim().split("\n")).to.have.length(3);
    expect(await count("filters=project_id:proj-b")).to.equal(0);
  });

  it("is refused to a project key (403) and to bad parameters (400)", async () => {
    const res = await api.call(`/v2/dataframes?filters=project_id:proj-a`, { method: "DELETE", key: PROJECT_A_KEY });
    expect(res.status).to.equal(403);
    expect(((await res.json()) as { error: string }).error).to.equal("forbidden");
    const bad = await api.call(`/v2/dataframes?limit=5`, { method: "DELETE" });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { details: { path: string }[] }).details[0]!.path).to.equal("limit");
    expect(await count("")).to.equal(15);
  });
});

forEachEngine("API parity: exact decimals on the wire", function () {
  this.timeout(60_000);
  let api: TestApi;
  const B = Date.parse("2024-08-01T00:00:00Z");
  before(async () => {
    api = await startApi();
    const res = await api.call("/v2/dataframes", {
      json: {
        dataframes: [
          {
            period: { begin: iso(B), end: iso(B + HOUR) },
            usage: {
              big: [
                {
                  vol: { unit: "u", qty: "123456789.123456789" },
                  rating: { price: "0.000000001" },
                  groupby: { project_id: "p" },
                  metadata: {},
                },
              ],
              tiny: [
                {
                  vol: { unit: "u", qty: 0.000000001 },
                  rating: { price: Number("123456789.123456789") },
                  groupby: { project_id: "p" },
                  metadata: {},
                },
              ],
            },
          },
        ],
      },
    });
    expect(res.status).to.equal(204);
  });
  after(async () => api.close());

  it("retrieve writes the stored decimals as they were pushed", async () => {
    const text = await (await api.call(`/v2/dataframes?${window(B, B + HOUR)}`)).text();
    expect(text).to.include('"qty":123456789.123456789');
    expect(text).to.include('"price":0.000000001');
    expect(text).to.include('"qty":0.000000001');
    // Pushed as a JSON number, 123456789.123456789 was already the double 123456789.12345679: stored as that.
    expect(text).to.include('"price":123456789.12345679');
  });

  it("summary sums exactly and writes the exact sum", async () => {
    // qty: 123456789.123456789 + 0.000000001; rate: 0.000000001 + 123456789.12345679.
    const text = await (await api.call(`/v2/summary?${window(B, B + HOUR)}`)).text();
    expect(text).to.include('"results":[["2024-08-01T00:00:00+00:00","2024-08-01T01:00:00+00:00",123456789.12345679,123456789.123456791]]');
    const byType = await (await api.call(`/v2/summary?${window(B, B + HOUR)}&groupby=type&response_format=object`)).text();
    expect(byType).to.include('"qty":123456789.123456789,"rate":0.000000001,"type":"big"');
  });

  it("export writes the exact decimals", async () => {
    const text = await (await api.call(`/v2/dataframes/export?${window(B, B + HOUR)}`)).text();
    expect(text).to.include('"qty":123456789.123456789');
    expect(text).to.include('"price":0.000000001');
  });
});

forEachEngine("API parity: retention never loses what it acknowledged", function () {
  this.timeout(120_000);

  it("with the default configuration, 2018 points are refused with 422 naming each point and the retention; newer ones in the same push are stored", async () => {
    const api = await startApi({}, undefined, { retentionMechanism: "auto" });
    try {
      expect(api.backend.config.retentionHours).to.equal(2400);
      const old = wireFrames(manyPoints(4, { spanHours: 2, start: Date.parse("2018-01-01T00:00:00Z") }));
      const now = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      const fresh = wireFrames(manyPoints(3, { spanHours: 1, start: now }));
      const res = await api.call("/v2/dataframes", { json: { dataframes: [...old, ...fresh] } });
      expect(res.status).to.equal(422);
      const body = (await res.json()) as { details: { path: string; message: string }[]; stored: number };
      expect(body.stored).to.equal(3);
      expect(body.details.map((d) => d.path).sort()).to.deep.equal(
        ["dataframes[0].usage.m0[0]", "dataframes[0].usage.m2[0]", "dataframes[1].usage.m1[0]", "dataframes[1].usage.m0[0]"].sort(),
      );
      expect(body.details[0]!.message).to.match(/^422: the period is past the retention of 2400 h/);
      // Nothing of 2018 was written, so a sweep has nothing to take away; the fresh points stay.
      await api.backend.sweepRetention();
      const kept = (await (
        await api.call(`/v2/dataframes?${window(Date.parse("2018-01-01T00:00:00Z"), now + 2 * HOUR)}&limit=100`)
      ).json()) as { total: number };
      expect(kept.total).to.equal(3);
      const all2018 = await api.call(`/v2/dataframes?${window(Date.parse("2018-01-01T00:00:00Z"), Date.parse("2018-02-01T00:00:00Z"))}`);
      expect(all2018.status).to.equal(404);
    } finally {
      await api.close();
    }
  });

  it("a summary hammered while expired partitions are taken out of the alias and deleted never gets a 5xx", async () => {
    const DAY = 86_400_000;
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    // Ten expired daily partitions written while retention was off, then a service with 48 h retention.
    const loader = await startApi({}, undefined, { partition: "day", retentionMechanism: "none" });
    const frames = wireFrames(
      Array.from({ length: 10 }, (_, d) => manyPoints(200, { spanHours: 1, start: today - (20 - d) * DAY })).flat(),
    );
    expect((await loader.call("/v2/dataframes", { json: { dataframes: frames } })).status).to.equal(204);
    const api = await startApi({}, undefined, {
      indexPrefix: loader.backend.config.indexPrefix,
      partition: "day",
      retentionHours: 48,
      retentionMechanism: "auto",
      sweepGraceSeconds: 0,
    });
    try {
      const statuses: number[] = [];
      let stop = false;
      const hammer = async () => {
        while (!stop) {
          const res = await api.call(`/v2/summary?${window(today - 30 * DAY, today + DAY)}&groupby=project_id,type`);
          statuses.push(res.status);
          await res.arrayBuffer();
        }
      };
      const hammers = [hammer(), hammer(), hammer(), hammer()];
      const sweep = await api.backend.sweepRetention();
      stop = true;
      await Promise.all(hammers);
      expect(sweep.deleted).to.have.length(10);
      expect(statuses.length).to.be.greaterThan(4);
      expect(
        statuses.filter((s) => s >= 500),
        `statuses: ${statuses.join(",")}`,
      ).to.deep.equal([]);
      const after = (await (await api.call(`/v2/summary?${window(today - 30 * DAY, today + DAY)}`)).json()) as Table;
      expect(after.results[0]![2]).to.equal(0);
    } finally {
      await api.close();
      await loader.close();
    }
  });

  it("with a grace period, an expired partition leaves the alias first and is deleted by a later sweep", async () => {
    const DAY = 86_400_000;
    const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
    const loader = await startApi({}, undefined, { partition: "day", retentionMechanism: "none" });
    await loader.call("/v2/dataframes", { json: { dataframes: wireFrames(manyPoints(10, { spanHours: 1, start: today - 5 * DAY })) } });
    const api = await startApi({}, undefined, {
      indexPrefix: loader.backend.config.indexPrefix,
      partition: "day",
      retentionHours: 48,
      retentionMechanism: "auto",
    });
    try {
      const index = api.backend.partitions.indexFor(today - 5 * DAY);
      const first = await api.backend.sweepRetention();
      expect(first.detached).to.deep.equal([index]);
      expect(first.deleted).to.deep.equal([]);
      expect((await api.call(`/v2/dataframes?${window(today - 6 * DAY, today)}`)).status).to.equal(404);
      const exists = await api.backend.client.request({ method: "HEAD", path: `/${index}` }, [404]);
      expect(exists.status).to.equal(200);
      const later = await api.backend.sweepRetention(
        Date.now() + (api.backend.config.sweepGraceSeconds + api.backend.config.sweepIntervalSeconds) * 1000 + 1000,
      );
      expect(later.deleted).to.deep.equal([index]);
      expect((await api.backend.client.request({ method: "HEAD", path: `/${index}` }, [404])).status).to.equal(404);
    } finally {
      await api.close();
      await loader.close();
    }
  });
});

forEachEngine("API parity: any limit, streamed", function () {
  this.timeout(600_000);
  let api: TestApi;
  const N = 25_000;
  const B = Date.parse("2024-09-01T00:00:00Z");
  const W = window(B, B + 24 * HOUR);
  before(async () => {
    api = await startApi();
    const frames = manyPoints(N, { spanHours: 24, start: B, types: 7 });
    for (let i = 0; i < frames.length; i += 4) {
      const res = await api.call("/v2/dataframes?refresh=false", { json: { dataframes: wireFrames(frames.slice(i, i + 4)) } });
      expect(res.status).to.equal(204);
    }
    await api.call("/v2/refresh", { method: "POST" });
  });
  after(async () => api.close());

  const pointsOf = (body: { dataframes: { usage: Record<string, unknown[]> }[] }) =>
    body.dataframes.reduce((n, d) => n + Object.values(d.usage).reduce((m, l) => m + l.length, 0), 0);

  it("GET /v2/dataframes with limit 20,000 and 1,000,000, and at an offset past the window", async () => {
    const page = (await (await api.call(`/v2/dataframes?${W}&limit=20000`)).json()) as {
      total: number;
      next?: string;
      dataframes: { usage: Record<string, unknown[]> }[];
    };
    expect(page.total).to.equal(N);
    expect(pointsOf(page)).to.equal(20_000);
    expect(page.next).to.be.a("string");
    const rest = (await (await api.call(`/v2/dataframes?${W}&limit=20000&cursor=${page.next!}`)).json()) as {
      dataframes: { usage: Record<string, unknown[]> }[];
      next?: string;
    };
    expect(pointsOf(rest)).to.equal(N - 20_000);
    expect(rest.next).to.equal(undefined);
    const all = (await (await api.call(`/v2/dataframes?${W}&limit=1000000`)).json()) as {
      dataframes: { usage: Record<string, unknown[]> }[];
    };
    expect(pointsOf(all)).to.equal(N);
    const deep = (await (await api.call(`/v2/dataframes?${W}&offset=12000&limit=12000`)).json()) as {
      dataframes: { usage: Record<string, unknown[]> }[];
    };
    expect(pointsOf(deep)).to.equal(12_000);
    const over = await api.call(`/v2/dataframes?${W}&limit=1000001`);
    expect(over.status).to.equal(400);
  });

  it("GET /v2/summary with limit 1,000,000 and with paginate=false returns every group", async () => {
    const groups = (await (await api.call(`/v2/summary?${W}&groupby=project_id,type,id&limit=1000000`)).json()) as Table;
    expect(groups.total).to.equal(N);
    expect(groups.results).to.have.length(N);
    const all = (await (await api.call(`/v2/summary?${W}&groupby=project_id&groupby=type&paginate=false&limit=3`)).json()) as Table;
    expect(all.total).to.equal(350);
    expect(all.results).to.have.length(350);
    const qty = all.results.reduce((s: bigint, r) => s + dec(String(r[2])), 0n);
    expect(qty).to.equal(dec(N));
  });

  it("python-cloudkittyclient 6.2.0 gets every row: dataframes get --limit 20000, summary get -g project_id -g type", async function () {
    const python = venvPython();
    const auth = ["--os-auth-type", "admin_token", "--os-endpoint", api.url, "--os-token", ADMIN_KEY];
    const range = ["-b", iso(B), "-e", iso(B + 24 * HOUR)];
    const frames = await venvTool(python, "cloudkitty", [...auth, "dataframes", "get", "--limit", "20000", ...range, "-f", "json"]);
    expect(frames.code, frames.stderr).to.equal(0);
    const rows = JSON.parse(frames.stdout) as { Qty: number }[];
    expect(rows).to.have.length(20_000);
    const summary = await venvTool(python, "cloudkitty", [
      ...auth,
      "summary",
      "get",
      "-g",
      "project_id",
      "-g",
      "type",
      "--limit",
      "1000",
      ...range,
      "-f",
      "json",
    ]);
    expect(summary.code, summary.stderr).to.equal(0);
    const groups = JSON.parse(summary.stdout) as Record<string, unknown>[];
    expect(groups).to.have.length(350);
    expect(groups.reduce((s, g) => s + Number(g["Qty"] ?? g["qty"]), 0)).to.equal(N);
  });
});
