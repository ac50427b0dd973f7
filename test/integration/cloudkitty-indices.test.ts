import { expect } from "chai";
import { startApi, type TestApi } from "../support/api.js";
import { CloudKittyStorage } from "../support/cloudkitty.js";
import { HOUR } from "../support/data.js";

/**
 * Living beside CloudKitty's own indices. CloudKitty's own storage backend (cloudkitty 25.0.0 from PyPI:
 * OpenSearchStorage on OpenSearch, ElasticsearchStorage on Elasticsearch) pointed at ratestore's read
 * alias gets the same figures as ratestore's API.
 */

const B = Date.parse("2024-03-01T00:00:00Z");
const HOURS = 12;
const iso = (t: number) => new Date(t).toISOString();

/** Amounts that are sums of powers of two, so that CloudKitty's double sums are exact too and can be compared to the digit. */
function frames(): unknown[] {
  const out: unknown[] = [];
  for (let h = 0; h < HOURS; h++) {
    const usage: Record<string, unknown[]> = {};
    for (const type of ["cpu", "ram", "volume.size"]) {
      usage[type] = [];
      for (let p = 0; p < 6; p++) {
        for (let k = 0; k < 3; k++) {
          usage[type]!.push({ vol: { unit: "u", qty: String(0.25 * (k + 1) + h) }, rating: { price: String(1.5 * (p + 1) + 0.125 * k) }, groupby: { project_id: `proj-${p}`, id: `${type}-${p}-${k}` }, metadata: { flavor: `f${k}` } });
        }
      }
    }
    out.push({ period: { begin: iso(B + h * HOUR), end: iso(B + (h + 1) * HOUR) }, usage });
  }
  return out;
}

type Row = Record<string, string | number | null>;
const key = (r: Row, by: string[]) => by.map((k) => String(r[k])).join("|");

describe("CloudKitty indices: CloudKitty's own backend reads ratestore's partitions", function () {
  this.timeout(600_000);
  let api: TestApi;
  let ck: CloudKittyStorage;
  const window = { begin: iso(B), end: iso(B + HOURS * HOUR) };

  before(async () => {
    api = await startApi();
    const res = await api.call("/v2/dataframes", { json: { dataframes: frames() } });
    expect(res.status).to.equal(204);
    // Its init() would write CloudKitty's mapping document into the index: reading needs none of it.
    ck = await CloudKittyStorage.open(api.backend.profile.distribution, process.env.OPENSEARCH_URL!.split(",")[0]!, api.backend.partitions.alias, false);
  });
  after(async () => {
    ck?.close();
    await api?.close();
  });

  for (const groupby of [["project_id", "type"], ["type"], ["project_id"], []]) {
    it(`total(groupby=${JSON.stringify(groupby)}) equals /v2/summary, group by group`, async () => {
      const theirs = await ck.call<{ total: number; results: Row[] }>({ op: "total", ...window, groupby: groupby.length ? groupby : null });
      const q = new URLSearchParams({ ...window, paginate: "false", response_format: "object" });
      for (const g of groupby) q.append("groupby", g);
      const ours = (await (await api.call(`/v2/summary?${q}`)).json()) as { total: number; results: Row[] };
      expect(theirs.results.length, "groups").to.equal(ours.results.length);
      expect(theirs.results.length).to.equal(groupby.length === 0 ? 1 : groupby.reduce((n, g) => n * (g === "type" ? 3 : 6), 1));
      const mine = new Map(ours.results.map((r) => [key(r, groupby), r]));
      for (const row of theirs.results) {
        const match = mine.get(key(row, groupby));
        expect(match, `group ${key(row, groupby)}`).to.not.equal(undefined);
        expect(Number(row.qty), `qty of ${key(row, groupby)}`).to.equal(Number(match!.qty));
        expect(Number(row.rate), `rate of ${key(row, groupby)}`).to.equal(Number(match!.rate));
      }
    });
  }

  it("retrieve() returns every point, as /v2/dataframes counts them", async () => {
    const theirs = await ck.call<{ total: number; points: number }>({ op: "retrieve", ...window });
    const ours = (await (await api.call(`/v2/dataframes?${new URLSearchParams({ ...window, limit: "1" })}`)).json()) as { total: number };
    expect(theirs.points).to.equal(HOURS * 3 * 6 * 3);
    expect(theirs.total).to.equal(ours.total);
  });
});
