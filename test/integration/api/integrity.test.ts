import { expect } from "chai";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { ADMIN_KEY, PROJECT_A_KEY, PROJECT_B_KEY, startApi, type TestApi } from "../../support/api.js";
import { HOUR } from "../../support/data.js";
import { forEachEngine } from "../../support/engines.js";

/** Input integrity and tenant isolation: each row of the hostile-client findings, with the behaviour it now has. */

const B = Date.parse("2024-10-01T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const W = `begin=${iso(B)}&end=${iso(B + 2 * HOUR)}`;
const point = (project: string, extra: Record<string, unknown> = {}) => ({
  vol: { unit: "h", qty: "1" },
  rating: { price: "2" },
  groupby: { project_id: project, id: `${project}-vm` },
  metadata: {},
  ...extra,
});
const frame = (usage: Record<string, unknown>, h = 0) => ({ period: { begin: iso(B + h * HOUR), end: iso(B + (h + 1) * HOUR) }, usage });

interface ErrorBody {
  error: string;
  message: string;
  details: { path: string; message: string }[];
}

forEachEngine("API integrity: reject, never alter", function () {
  this.timeout(60_000);
  let api: TestApi;
  beforeEach(async () => (api = await startApi()));
  afterEach(async () => api.close());

  const count = async (key = ADMIN_KEY, query = "") => {
    const res = await api.call(`/v2/dataframes?${W}&limit=1000${query}`, { key });
    return res.status === 404 ? 0 : ((await res.json()) as { total: number }).total;
  };
  const pushRaw = (body: string | Buffer) =>
    api.call("/v2/dataframes", { method: "POST", body, headers: { "content-type": "application/json" } });
  /** Pushes each body and expects a 400 naming exactly its path, with a message matching `message`. */
  const expectRefused = async (cases: readonly (readonly [body: string, path: string])[], message: RegExp) => {
    for (const [body, path] of cases) {
      const res = await pushRaw(body);
      expect(res.status, path).to.equal(400);
      const d = ((await res.json()) as ErrorBody).details;
      expect(d.map((x) => x.path)).to.deep.equal([path]);
      expect(d[0]!.message).to.match(message);
    }
  };

  it("B1: a usage key __proto__ holding points is a 400 naming it; nothing is stored", async () => {
    const res = await pushRaw(
      `{"dataframes":[{"period":{"begin":"${iso(B)}","end":"${iso(B + HOUR)}"},"usage":{"__proto__":[${JSON.stringify(point("proj-a"))}],"cpu":[${JSON.stringify(point("proj-a"))}]}}]}`,
    );
    expect(res.status).to.equal(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.details).to.deep.equal([
      { path: "dataframes[0].usage.__proto__", message: '"__proto__" is a reserved name and cannot be a key' },
    ]);
    expect(await count()).to.equal(0);
  });

  it("B2: a groupby or metadata value that is an object, under __proto__ or not, is a 400 naming it", async () => {
    const proto = await pushRaw(
      `{"dataframes":[{"period":{"begin":"${iso(B)}","end":"${iso(B + HOUR)}"},"usage":{"cpu":[{"vol":{"unit":"h","qty":1},"rating":{"price":1},"groupby":{"project_id":"proj-a","__proto__":{"x":1}},"metadata":{"__proto__":"y"}}]}}]}`,
    );
    expect(proto.status).to.equal(400);
    expect(((await proto.json()) as ErrorBody).details.map((d) => d.path)).to.deep.equal([
      "dataframes[0].usage.cpu[0].groupby.__proto__",
      "dataframes[0].usage.cpu[0].metadata.__proto__",
    ]);
    const object = await api.call("/v2/dataframes", {
      json: { dataframes: [frame({ cpu: [point("proj-a", { groupby: { project_id: "proj-a", nested: { x: 1 } } })] })] },
    });
    expect(object.status).to.equal(400);
    expect(((await object.json()) as ErrorBody).details[0]!.path).to.equal("dataframes[0].usage.cpu[0].groupby.nested");
    expect(await count()).to.equal(0);
  });

  it("B3: an amount finer than 9 decimal places is a 400 naming it, never rounded to 0", async () => {
    for (const qty of [1e-12, "1e-400", "0.0000000001"]) {
      const res = await api.call("/v2/dataframes", {
        json: { dataframes: [frame({ cpu: [point("proj-a", { vol: { unit: "h", qty } })] })] },
      });
      expect(res.status, String(qty)).to.equal(400);
      const d = ((await res.json()) as ErrorBody).details[0]!;
      expect(d.path).to.equal("dataframes[0].usage.cpu[0].vol.qty");
      expect(d.message).to.match(/more than 9 decimal places/);
    }
    expect(await count()).to.equal(0);
  });

  it("E1: a summary past 2^53 is exact in the JSON text: 11 points of qty 999999999999999 sum to 10999999999999989", async () => {
    const big = (id: number) =>
      point("proj-a", {
        vol: { unit: "B", qty: "999999999999999" },
        rating: { price: "-999999999999999.999999999" },
        groupby: { project_id: "proj-a", id: `vm-${id}` },
      });
    const push = await api.call("/v2/dataframes", {
      method: "POST",
      json: { dataframes: [frame({ cpu: Array.from({ length: 11 }, (_, i) => big(i)) })] },
    });
    expect(push.status).to.equal(204);
    const res = await api.call(`/v2/summary?${W}&groupby=project_id`);
    expect(res.status).to.equal(200);
    // Read as text: JSON.parse would itself round the numbers.
    const text = await res.text();
    expect(text).to.include('"columns":["begin","end","qty","rate","project_id"]');
    expect(text).to.include(',10999999999999989,-10999999999999999.999999989,"proj-a"]');
  });

  it("B5: bytes that are not UTF-8 are a 400, never stored as U+FFFD", async () => {
    const text = JSON.stringify({ dataframes: [frame({ cpu: [point("proj-a", { metadata: { name: "XX" } })] })] });
    const bytes = Buffer.from(text, "utf8");
    const at = bytes.indexOf("XX");
    bytes[at] = 0xff;
    bytes[at + 1] = 0xfe;
    const res = await pushRaw(bytes);
    expect(res.status).to.equal(400);
    expect(await res.json()).to.deep.equal({
      error: "bad_request",
      message: "request body is not valid UTF-8",
      details: [{ path: "(body)", message: "contains bytes that are not UTF-8" }],
    });
    expect(await count()).to.equal(0);
  });

  it("B10: a query string over 16 KB is a 414 and oversized headers a 431, both with the JSON error shape", async () => {
    const long = await api.call(`/v2/summary?${W}&filters=${"a:b,".repeat(5000)}`);
    expect(long.status).to.equal(414);
    expect(((await long.json()) as ErrorBody).error).to.equal("uri_too_long");
    const url = new URL(api.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`GET /v2/summary HTTP/1.1\r\nHost: x\r\nX-Big: ${"y".repeat(100 * 1024)}\r\n\r\n`);
      });
      let data = "";
      socket.on("data", (d) => (data += d.toString()));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(raw).to.match(/^HTTP\/1\.1 431 /);
    expect(raw).to.match(/content-type: application\/json/i);
    expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))).to.include({ error: "headers_too_large" });
    // Ordinary large requests still pass: a 12 KB query is served.
    const ok = await new Promise<number>((resolve) => {
      httpRequest(
        `${api.url}/v2/summary?${W}&filters=${encodeURIComponent(`flavor:${"z".repeat(12 * 1024)}`)}`,
        { headers: { authorization: `Bearer ${ADMIN_KEY}` } },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      ).end();
    });
    expect(ok).to.equal(200);
  });

  it("E2: a lone UTF-16 surrogate escape, in a label value or a key, is a 400 naming it; nothing is stored", async () => {
    const value = JSON.stringify({ dataframes: [frame({ cpu: [point("proj-a", { metadata: { name: "SURROGATE" } })] })] }).replace(
      "SURROGATE",
      "\\ud800x",
    );
    const key = JSON.stringify({
      dataframes: [frame({ cpu: [point("proj-a", { groupby: { project_id: "proj-a", KEY: "1" } })] })],
    }).replace("KEY", "k\\udfff");
    await expectRefused(
      [
        [value, "dataframes[0].usage.cpu[0].metadata.name"],
        [key, "dataframes[0].usage.cpu[0].groupby.k\udfff"],
      ],
      /lone UTF-16 surrogate/,
    );
    // In a query string, the bytes of a surrogate (not UTF-8) are refused too, never read as U+FFFD.
    const query = await api.call(`/v2/summary?${W}&filters=name:%ED%A0%80x`);
    expect(query.status).to.equal(400);
    expect(((await query.json()) as ErrorBody).details).to.deep.equal([{ path: "(query)", message: "%ED%A0%80 is not UTF-8" }]);
    expect((await api.call(`/v2/summary?${W}&filters=name:%F0%9F%98%80`)).status).to.equal(200);
    // A well-formed pair (an emoji) is stored as sent.
    const pair = JSON.stringify({ dataframes: [frame({ cpu: [point("proj-a", { metadata: { name: "PAIR" } })] })] }).replace(
      "PAIR",
      "\\ud83d\\ude00",
    );
    expect((await pushRaw(pair)).status).to.equal(204);
    expect(await count()).to.equal(1);
  });

  it("E3: a label number that a double does not keep as written is a 400 naming it; the same as a string is kept", async () => {
    const withRid = (literal: string) =>
      JSON.stringify({ dataframes: [frame({ cpu: [point("proj-a", { groupby: { project_id: "proj-a", rid: "RID" } })] })] }).replace(
        '"RID"',
        literal,
      );
    await expectRefused(
      ["12345678901234567890", "1e-400"].map((literal) => [withRid(literal), "dataframes[0].usage.cpu[0].groupby.rid"] as const),
      /double cannot hold|beyond the range/,
    );
    expect(await count()).to.equal(0);
    const asString = await api.call("/v2/dataframes", {
      method: "POST",
      json: { dataframes: [frame({ cpu: [point("proj-a", { groupby: { project_id: "proj-a", rid: "12345678901234567890" } })] })] },
    });
    expect(asString.status).to.equal(204);
    const summary = await api.call(`/v2/summary?${W}&groupby=rid&response_format=object`);
    expect(await summary.text()).to.include('"rid":"12345678901234567890"');
  });

  it("E4: a key given twice anywhere in a push is a 400 naming it; nothing is stored", async () => {
    const list = JSON.stringify([point("proj-a")]);
    const twiceType = `{"dataframes":[{"period":{"begin":"${iso(B)}","end":"${iso(B + HOUR)}"},"usage":{"cpu":${list},"cpu":${list}}}]}`;
    const twiceQty = JSON.stringify({ dataframes: [frame({ cpu: [point("proj-a")] })] }).replace('"qty":"1"', '"qty":"1","qty":"2"');
    await expectRefused(
      [
        [twiceType, "dataframes[0].usage.cpu"],
        [twiceQty, "dataframes[0].usage.cpu[0].vol.qty"],
      ],
      /given twice/,
    );
    expect(await count()).to.equal(0);
  });

  it("E5: a period finer than a millisecond is a 400 naming it; the same instant written otherwise gets the same point", async () => {
    const at = (begin: string) => ({ dataframes: [{ period: { begin, end: iso(B + HOUR) }, usage: { cpu: [point("proj-a")] } }] });
    const fine = await api.call("/v2/dataframes", { method: "POST", json: at("2024-10-01T00:00:00.123456789Z") });
    expect(fine.status).to.equal(400);
    const d = ((await fine.json()) as ErrorBody).details;
    expect(d.map((x) => x.path)).to.deep.equal(["dataframes[0].period.begin"]);
    expect(d[0]!.message).to.match(/finer than a millisecond/);
    expect(await count()).to.equal(0);
    // One instant, three spellings: one point.
    for (const begin of ["2024-10-01T00:00:00.123Z", "2024-10-01T00:00:00.123000000Z", "2024-10-01T02:00:00.1230+02:00"]) {
      expect((await api.call("/v2/dataframes", { method: "POST", json: at(begin) })).status, begin).to.equal(204);
    }
    expect(await count()).to.equal(1);
  });

  it("B12: identical points follow one rule: within a request all are kept however they are framed; a request sent again stores nothing twice", async () => {
    const p = point("proj-a");
    expect((await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [p, p] })] } })).status).to.equal(204);
    expect(await count()).to.equal(2);
    // The same two points framed as two dataframes of the period: recognized, nothing added.
    expect((await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [p] }), frame({ cpu: [p] })] } })).status).to.equal(204);
    expect(await count()).to.equal(2);
    // A retry of a request with the point once: its first occurrence, already there.
    expect((await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [p] })] } })).status).to.equal(204);
    expect(await count()).to.equal(2);
    // A point that differs in anything (here its metadata) is another point.
    expect(
      (await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [{ ...p, metadata: { flavor: "x" } }] })] } })).status,
    ).to.equal(204);
    expect(await count()).to.equal(3);
  });
});

forEachEngine("API integrity: tenants", function () {
  this.timeout(120_000);
  let api: TestApi;
  beforeEach(async () => (api = await startApi()));
  afterEach(async () => api.close());

  const summaryRate = async (key: string, query: string) => {
    const t = (await (await api.call(`/v2/summary?${W}${query}`, { key })).json()) as { results: unknown[][] };
    return t.results[0]![3];
  };

  it("S1: a project's metadata.project_id naming another project changes no figure of that project, admin views included", async () => {
    expect(
      (await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [point("proj-b")] })] }, key: PROJECT_B_KEY })).status,
    ).to.equal(204);
    const before = await summaryRate(ADMIN_KEY, "&filters=project_id:proj-b");
    expect(before).to.equal(2);
    const spoof = point("proj-a", { metadata: { project_id: "proj-b" }, rating: { price: "1000" } });
    expect((await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [spoof] })] }, key: PROJECT_A_KEY })).status).to.equal(
      204,
    );
    expect(await summaryRate(ADMIN_KEY, "&filters=project_id:proj-b")).to.equal(2);
    expect(await summaryRate(PROJECT_B_KEY, "")).to.equal(2);
    expect(await summaryRate(ADMIN_KEY, "&filters=project_id:proj-a")).to.equal(1000);
    const dfs = await api.call(`/v2/dataframes?${W}&filters=project_id:proj-b`);
    expect(((await dfs.json()) as { total: number }).total).to.equal(1);
    // Other metadata keys still match as in CloudKitty (groupby or metadata).
    const byMeta = await api.call(`/v2/dataframes?${W}&filters=project_id:proj-a`);
    expect(((await byMeta.json()) as { total: number }).total).to.equal(1);
  });

  it("S4: a project pushing 1,000 new metadata keys neither grows the mapping nor blocks another project's new keys", async () => {
    const wide = Array.from({ length: 8 }, (_, i) =>
      point("proj-a", {
        groupby: { project_id: "proj-a", id: `wide-${i}` },
        metadata: Object.fromEntries(Array.from({ length: 125 }, (_, k) => [`k${i * 125 + k}`, `v${k}`])),
      }),
    );
    const res = await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: wide })] }, key: PROJECT_A_KEY });
    expect(res.status, await res.clone().text()).to.equal(204);
    const index = api.backend.partitions.indexFor(B);
    const mapping = (
      await api.backend.client.request<
        Record<string, { mappings: { properties: Record<string, { properties?: Record<string, unknown> }> } }>
      >({ method: "GET", path: `/${index}/_mapping` })
    ).body;
    const props = mapping[index]!.mappings.properties;
    const fieldCount = Object.keys(props).length + Object.keys(props.groupby?.properties ?? {}).length;
    expect(fieldCount, JSON.stringify(Object.keys(props))).to.be.lessThan(30);
    const fresh = point("proj-b", { metadata: { brand_new_key: "x" } });
    expect((await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [fresh] })] }, key: PROJECT_B_KEY })).status).to.equal(
      204,
    );
    // Metadata stays filterable, and comes back as it was pushed.
    const found = (await (await api.call(`/v2/dataframes?${W}&filters=k777:v27`)).json()) as {
      total: number;
      dataframes: { usage: { cpu: { metadata: Record<string, string> }[] } }[];
    };
    expect(found.total).to.equal(1);
    expect(Object.keys(found.dataframes[0]!.usage.cpu[0]!.metadata)).to.have.length(125);
    expect(
      ((await (await api.call(`/v2/dataframes?${W}&filters=brand_new_key:x`, { key: PROJECT_B_KEY })).json()) as { total: number }).total,
    ).to.equal(1);
    // And a point with too many keys is a 400 naming it.
    const tooWide = point("proj-a", { metadata: Object.fromEntries(Array.from({ length: 129 }, (_, k) => [`m${k}`, 1])) });
    const refused = await api.call("/v2/dataframes", { json: { dataframes: [frame({ cpu: [tooWide] })] }, key: PROJECT_A_KEY });
    expect(refused.status).to.equal(400);
    const d = ((await refused.json()) as ErrorBody).details[0]!;
    expect(d).to.deep.equal({ path: "dataframes[0].usage.cpu[0].metadata", message: "has 129 keys; at most 128 are accepted" });
  });
});
