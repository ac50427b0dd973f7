import { expect } from "chai";
import type { TotalRow } from "../../../src/storage/backend.js";
import { contractBackend } from "../../support/cluster.js";
import { HOUR, PROJECTS, T0, TYPES, expectedSums, scenarioFrames } from "../../support/data.js";
import { retrieve, total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof contractBackend>>;
const WINDOW = { begin: T0, end: T0 + 3 * HOUR };
const all = () => true;
const sum = (rows: readonly TotalRow[]) => rows.reduce((a, r) => ({ qty: a.qty + r.qty, rate: a.rate + r.rate }), { qty: 0n, rate: 0n });

forEachEngine("contract: CloudKitty's v2 scenarios", () => {
  let backend: Backend;

  before(async () => {
    backend = await contractBackend();
    const res = await backend.push(scenarioFrames(), { refresh: true });
    expect(res.failed).to.deep.equal([]);
    expect(res.stored).to.equal(3 * 2 * 7 * 2);
  });
  after(async () => backend.drop());

  describe("total", () => {
    it("over everything: one row with exact sums", async () => {
      const r = await total(backend, WINDOW);
      const want = expectedSums(3, all);
      expect(r.total).to.equal(1);
      expect(r.results[0]!.qty).to.equal(want.qty);
      expect(r.results[0]!.rate).to.equal(want.rate);
      expect(r.results[0]!.begin).to.equal(WINDOW.begin);
      expect(r.results[0]!.end).to.equal(WINDOW.end);
    });

    it("for one project", async () => {
      const r = await total(backend, { ...WINDOW, groupFilters: { project_id: "proj-b" } });
      expect(r.results[0]!.rate).to.equal(expectedSums(3, (_h, p) => p === 1).rate);
    });

    it("for one period", async () => {
      const r = await total(backend, { begin: T0 + HOUR, end: T0 + 2 * HOUR });
      expect(r.results[0]!.rate).to.equal(expectedSums(3, (h) => h === 1).rate);
    });

    it("for one project in one period", async () => {
      const r = await total(backend, { begin: T0 + 2 * HOUR, end: T0 + 3 * HOUR, groupFilters: { project_id: "proj-a" } });
      expect(r.results[0]!.rate).to.equal(expectedSums(3, (h, p) => h === 2 && p === 0).rate);
    });

    it("grouped by project_id", async () => {
      const r = await total(backend, { ...WINDOW, groupby: ["project_id"] });
      expect(r.total).to.equal(2);
      expect(r.results.map((x) => x.groups.project_id)).to.deep.equal([...PROJECTS]);
      r.results.forEach((row, p) => expect(row.rate).to.equal(expectedSums(3, (_h, pp) => pp === p).rate));
    });

    it("grouped by type, paged by 2 at offsets 0,2,4,6, equals the unpaginated result", async () => {
      const full = await total(backend, { ...WINDOW, groupby: ["type"], paginate: false });
      expect(full.total).to.equal(7);
      expect(full.results).to.have.length(7);
      const pages: TotalRow[][] = [];
      for (const offset of [0, 2, 4, 6]) {
        const page = await total(backend, { ...WINDOW, groupby: ["type"], offset, limit: 2 });
        expect(page.total).to.equal(7);
        pages.push(page.results);
      }
      expect(pages.map((p) => p.length)).to.deep.equal([2, 2, 2, 1]);
      expect(pages.flat()).to.deep.equal(full.results);
      expect([...full.results.map((r) => r.groups.type)].sort()).to.deep.equal([...TYPES].sort());
      expect(sum(full.results)).to.deep.equal({ qty: expectedSums(3, all).qty, rate: expectedSums(3, all).rate });
    });

    it("grouped by type continues by cursor exactly like by offset", async () => {
      const rows: TotalRow[] = [];
      let after;
      do {
        const page = await total(backend, { ...WINDOW, groupby: ["type"], limit: 3, ...(after ? { after } : {}) });
        expect(page.total).to.equal(7);
        rows.push(...page.results);
        after = page.next;
      } while (after);
      expect(rows).to.deep.equal((await total(backend, { ...WINDOW, groupby: ["type"], paginate: false })).results);
    });

    it("grouped by time gives each period's begin and end", async () => {
      const r = await total(backend, { ...WINDOW, groupby: ["time"] });
      expect(r.results.map((x) => [x.begin, x.end])).to.deep.equal([0, 1, 2].map((h) => [T0 + h * HOUR, T0 + (h + 1) * HOUR]));
      r.results.forEach((row, h) => expect(row.rate).to.equal(expectedSums(3, (hh) => hh === h).rate));
    });

    it("grouped by calendar day, with type, and by a metadata-only filter", async () => {
      const r = await total(backend, { ...WINDOW, groupby: ["time-d", "type"], filters: { flavor: "f1" } });
      expect(r.total).to.equal(7);
      expect(r.results[0]!.begin).to.equal(Date.parse("2024-03-10T00:00:00Z"));
      expect(r.results[0]!.end).to.equal(Date.parse("2024-03-11T00:00:00Z"));
      const points = (await retrieve(backend, { ...WINDOW, filters: { flavor: "f1" }, paginate: false })).total;
      expect(points).to.equal(42);
    });

    it("filters on a numeric label value sent by CloudKitty (year: 2024)", async () => {
      const r = await total(backend, { ...WINDOW, filters: { year: 2024 } });
      expect(r.results[0]!.rate).to.equal(expectedSums(3, all).rate);
    });

    it("a window with no data: no groups, and ungrouped one row of zeros (as CloudKitty's Elasticsearch and OpenSearch backends)", async () => {
      const r = await total(backend, { begin: T0 - 10 * HOUR, end: T0 - 5 * HOUR, groupby: ["project_id"] });
      expect(r).to.deep.equal({ total: 0, results: [] });
      expect(await total(backend, { begin: T0 - 10 * HOUR, end: T0 - 5 * HOUR })).to.deep.equal({
        total: 1,
        results: [{ begin: T0 - 10 * HOUR, end: T0 - 5 * HOUR, qty: 0n, rate: 0n, groups: {} }],
      });
    });
  });

  describe("retrieve", () => {
    it("all points, grouped by period in period order", async () => {
      const r = await retrieve(backend, { ...WINDOW, paginate: false });
      expect(r.total).to.equal(84);
      expect(r.dataframes.map((d) => d.begin)).to.deep.equal([T0, T0 + HOUR, T0 + 2 * HOUR]);
      expect(r.dataframes.flatMap((d) => d.points)).to.have.length(84);
    });

    it("one metric type", async () => {
      const r = await retrieve(backend, { ...WINDOW, metricTypes: TYPES[3]! });
      expect(r.total).to.equal(12);
      expect(r.dataframes.flatMap((d) => d.points).every((p) => p.type === TYPES[3])).to.equal(true);
    });

    it("one project, two types, one period", async () => {
      const r = await retrieve(backend, {
        begin: T0 + HOUR,
        end: T0 + 2 * HOUR,
        groupFilters: { project_id: "proj-a" },
        metricTypes: [TYPES[0]!, TYPES[6]!],
      });
      expect(r.total).to.equal(4);
      expect(r.dataframes).to.have.length(1);
      const points = r.dataframes[0]!.points;
      expect(points.every((p) => p.groupby.project_id === "proj-a")).to.equal(true);
      expect(new Set(points.map((p) => p.type))).to.deep.equal(new Set([TYPES[0], TYPES[6]]));
    });

    it("offset/limit pages concatenate to the whole, each point exactly once", async () => {
      const ids: string[] = [];
      for (let offset = 0; offset < 84; offset += 10) {
        const page = await retrieve(backend, { ...WINDOW, offset, limit: 10 });
        expect(page.total).to.equal(84);
        ids.push(...page.dataframes.flatMap((d) => d.points.map((p) => `${d.begin}/${p.type}/${String(p.groupby.id)}`)));
      }
      expect(ids).to.have.length(84);
      expect(new Set(ids).size).to.equal(84);
    });

    it("returns the same amounts it was given", async () => {
      const r = await retrieve(backend, { begin: T0, end: T0 + HOUR, groupFilters: { id: `proj-b-${TYPES[2]}-1` } });
      expect(r.total).to.equal(1);
      const p = r.dataframes[0]!.points[0]!;
      expect(p.qty).to.equal(4_000_000_000n); // 1 + k(1) + type(2)
      expect(p.price).to.equal(2_021_000_000n); // "2.021"
      expect(p.metadata).to.deep.equal({ flavor: "f1", year: 2024 });
    });
  });

  it("uses the current month when no window is given, as CloudKitty does", async () => {
    expect((await retrieve(backend)).total).to.equal(0);
  });

  it("reports its retention", () => {
    expect(backend.getRetention()).to.deep.equal({ hours: 2400 });
  });
});
