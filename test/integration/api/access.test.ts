import { Writable } from "node:stream";
import { expect } from "chai";
import winston from "winston";
import { loadConfig } from "../../../src/config.js";
import { ConfigError } from "../../../src/errors.js";
import { ADMIN_KEY, PROJECT_A_KEY, PROJECT_B_KEY, startApi, type TestApi } from "../../support/api.js";
import { forEachEngine } from "../../support/engines.js";

const frame = (begin: string, end: string, project: string) => ({
  period: { begin, end },
  usage: { cpu: [{ vol: { unit: "h", qty: 1 }, rating: { price: 2 }, groupby: { project_id: project }, metadata: { owner: project } }] },
});
const WINDOW = "begin=2020-05-01T00:00:00Z&end=2020-05-02T00:00:00Z";

forEachEngine("API: keys and scopes", () => {
  let api: TestApi;
  const logLines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString("utf8"));
        done();
      },
    });
    const logger = winston.createLogger({
      level: "debug",
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    api = await startApi({}, logger);
    const frames = ["proj-a", "proj-b", "proj-c"].map((p, i) => frame(`2020-05-01T0${i}:00:00Z`, `2020-05-01T0${i + 1}:00:00Z`, p));
    expect((await api.call("/v2/dataframes", { json: { dataframes: frames } })).status).to.equal(204);
    await api.backend.client.request({ method: "POST", path: `/${api.backend.partitions.alias}/_refresh` });
  });
  after(async () => api.close());

  it("401 without a key or with an unknown key", async () => {
    const none = await api.call(`/v2/summary?${WINDOW}`, { key: null });
    expect(none.status).to.equal(401);
    expect(none.headers.get("www-authenticate")).to.match(/Bearer/);
    expect((await api.call(`/v2/summary?${WINDOW}`, { key: "not-a-key-at-all-0000" })).status).to.equal(401);
    expect((await api.call("/v2/dataframes", { key: null, json: { dataframes: [] } })).status).to.equal(401);
  });

  it("accepts CloudKitty's X-Auth-Token header as well as Bearer", async () => {
    const res = await api.call(`/v2/summary?${WINDOW}`, { key: null, headers: { "x-auth-token": ADMIN_KEY } });
    expect(res.status).to.equal(200);
  });

  it("a project key never sees another project's points or totals, whatever filters it sends", async () => {
    const attempts = [
      "",
      "&filters=project_id:proj-b",
      "&filters=project_id:proj-a,project_id:proj-b",
      "&filters=owner:proj-b",
      "&filters=type:cpu",
    ];
    for (const extra of attempts) {
      const sum = (await (await api.call(`/v2/summary?${WINDOW}&groupby=project_id${extra}`, { key: PROJECT_A_KEY })).json()) as {
        results: unknown[][];
      };
      for (const row of sum.results) expect(row[4], extra).to.equal("proj-a");
      const df = await api.call(`/v2/dataframes?${WINDOW}${extra}`, { key: PROJECT_A_KEY });
      if (df.status === 200) {
        const body = (await df.json()) as { dataframes: { usage: Record<string, { groupby: { project_id: string } }[]> }[] };
        for (const d of body.dataframes)
          for (const p of Object.values(d.usage).flat()) expect(p.groupby.project_id, extra).to.equal("proj-a");
      } else {
        expect(df.status, extra).to.equal(404);
      }
      const exported = await (await api.call(`/v2/dataframes/export?${WINDOW}${extra}`, { key: PROJECT_A_KEY })).text();
      expect(exported, extra).to.not.include("proj-b");
      expect(exported, extra).to.not.include("proj-c");
    }
    const admin = (await (await api.call(`/v2/summary?${WINDOW}&groupby=project_id`)).json()) as { total: number };
    expect(admin.total).to.equal(3);
  });

  it("403 when a project key pushes data for another scope, naming the points; its own scope is fine", async () => {
    const res = await api.call("/v2/dataframes", {
      key: PROJECT_B_KEY,
      json: { dataframes: [frame("2020-05-01T05:00:00Z", "2020-05-01T06:00:00Z", "proj-a")] },
    });
    expect(res.status).to.equal(403);
    const body = (await res.json()) as { details: { path: string }[] };
    expect(body.details.map((d) => d.path)).to.deep.equal(["dataframes[0].usage.cpu[0].groupby.project_id"]);
    const own = await api.call("/v2/dataframes", {
      key: PROJECT_B_KEY,
      json: { dataframes: [frame("2020-05-01T05:00:00Z", "2020-05-01T06:00:00Z", "proj-b")] },
    });
    expect(own.status).to.equal(204);
  });

  it("never writes a key into the logs", () => {
    const all = logLines.join("\n");
    expect(logLines.length).to.be.greaterThan(5);
    for (const k of [ADMIN_KEY, PROJECT_A_KEY, PROJECT_B_KEY]) expect(all).to.not.include(k);
    expect(all).to.include('"principal":"project-a"');
    expect(all).to.match(/"request_id":"[0-9a-f-]{36}"/);
  });

  it("refuses no-auth mode unless the service listens on loopback", () => {
    expect(() => loadConfig({ HOST: "0.0.0.0", RATESTORE_AUTH: "none" })).to.throw(ConfigError, /loopback/);
    expect(() => loadConfig({ HOST: "0.0.0.0" })).to.throw(ConfigError, /loopback/);
    expect(loadConfig({ HOST: "127.0.0.1" }).api.auth).to.equal("none");
    expect(
      loadConfig({ HOST: "0.0.0.0", RATESTORE_API_KEYS: JSON.stringify([{ name: "a", key: ADMIN_KEY, role: "admin" }]) }).api.auth,
    ).to.equal("keys");
  });
});

forEachEngine("API: cursor paging over 10,000 points", function () {
  this.timeout(120_000);
  let api: TestApi;
  before(async () => {
    api = await startApi();
    const dataframes = Array.from({ length: 10 }, (_, h) => ({
      period: { begin: `2021-01-01T0${h}:00:00Z`, end: h === 9 ? "2021-01-01T10:00:00Z" : `2021-01-01T0${h + 1}:00:00Z` },
      usage: {
        cpu: Array.from({ length: 1000 }, (_, i) => ({
          vol: { unit: "h", qty: 1 },
          rating: { price: "0.01" },
          groupby: { project_id: `p${i % 7}`, id: `${h}-${i}` },
          metadata: {},
        })),
      },
    }));
    expect((await api.call("/v2/dataframes", { json: { dataframes } })).status).to.equal(204);
    await api.backend.client.request({ method: "POST", path: `/${api.backend.partitions.alias}/_refresh` });
  });
  after(async () => api.close());
  const Q = "begin=2021-01-01T00:00:00Z&end=2021-01-02T00:00:00Z";

  it("returns each point exactly once", async () => {
    const seen = new Set<string>();
    let next: string | undefined;
    let pages = 0;
    do {
      const res = await api.call(`/v2/dataframes?${Q}&limit=250${next ? `&cursor=${encodeURIComponent(next)}` : ""}`);
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { total: number; next?: string; dataframes: { usage: { cpu: { groupby: { id: string } }[] } }[] };
      expect(body.total).to.equal(10_000);
      for (const d of body.dataframes)
        for (const p of d.usage.cpu) {
          expect(seen.has(p.groupby.id)).to.equal(false);
          seen.add(p.groupby.id);
        }
      next = body.next;
      pages++;
    } while (next);
    expect(seen.size).to.equal(10_000);
    expect(pages).to.equal(41);
  });

  it("summary cursors walk the groups like offsets do", async () => {
    const all = (await (await api.call(`/v2/summary?${Q}&groupby=id&limit=10000`)).json()) as { results: unknown[][] };
    const rows: unknown[][] = [];
    let next: string | undefined;
    do {
      const body = (await (
        await api.call(`/v2/summary?${Q}&groupby=id&limit=3000${next ? `&cursor=${encodeURIComponent(next)}` : ""}`)
      ).json()) as { total: number; next?: string; results: unknown[][] };
      expect(body.total).to.equal(10_000);
      rows.push(...body.results);
      next = body.next;
    } while (next);
    expect(rows).to.deep.equal(all.results);
  });

  it("a tampered cursor, or one replayed with other parameters, is a 400", async () => {
    const first = (await (await api.call(`/v2/dataframes?${Q}&limit=10`)).json()) as { next: string };
    const [body, mac] = first.next.split(".");
    const payload = JSON.parse(Buffer.from(body!, "base64url").toString()) as { after: unknown[] };
    payload.after[0] = 0;
    const forged = `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${mac}`;
    for (const cursor of [forged, first.next.slice(0, -2), "garbage", `${first.next}.x`]) {
      const res = await api.call(`/v2/dataframes?${Q}&limit=10&cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).to.equal(400);
      expect(((await res.json()) as { details: { path: string }[] }).details[0]!.path).to.equal("cursor");
    }
    const replay = await api.call(`/v2/dataframes?${Q}&filters=project_id:p1&limit=10&cursor=${encodeURIComponent(first.next)}`);
    expect(replay.status).to.equal(400);
    const other = await api.call(`/v2/summary?${Q}&cursor=${encodeURIComponent(first.next)}`);
    expect(other.status).to.equal(400);
  });

  it("paginate=false streams every point in CloudKitty's format", async () => {
    const body = (await (await api.call(`/v2/dataframes?${Q}&paginate=false`)).json()) as {
      total: number;
      dataframes: { usage: { cpu: unknown[] } }[];
    };
    expect(body.total).to.equal(10_000);
    expect(body.dataframes.reduce((n, d) => n + d.usage.cpu.length, 0)).to.equal(10_000);
  });
});
