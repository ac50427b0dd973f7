import { expect } from "chai";
import type { TotalOptions } from "../../../src/storage/backend.js";
import type { DataFrame, RatedPoint } from "../../../src/storage/dataframe.js";
import { formatNanos } from "../../../src/storage/decimal.js";
import { contractBackend } from "../../support/cluster.js";
import { HOUR, T0, amountPoint as point } from "../../support/data.js";
import { total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof contractBackend>>;

/** The largest whole amount accepted. */
const MAX = "999999999999999";

/** The exact sums of what was pushed, per project, as decimal text. */
function expected(frames: readonly DataFrame[], keep: (p: RatedPoint) => boolean = () => true): { qty: string; rate: string } {
  let qty = 0n;
  let rate = 0n;
  for (const df of frames) for (const p of df.points) if (keep(p)) [qty, rate] = [qty + p.qty, rate + p.price];
  return { qty: formatNanos(qty), rate: formatNanos(rate) };
}

async function rows(backend: Backend, options: TotalOptions): Promise<Record<string, { qty: string; rate: string }>> {
  const r = await total(backend, { begin: T0, end: T0 + 24 * HOUR, ...options });
  return Object.fromEntries(
    r.results.map((row) => [JSON.stringify(row.groups), { qty: formatNanos(row.qty), rate: formatNanos(row.rate) }]),
  );
}

forEachEngine("contract: totals exact past 2^53", () => {
  let backend: Backend;
  // 2^53 = 9,007,199,254,740,992. Each project's amounts are chosen to cross it in a way sums of doubles round.
  const frames: DataFrame[] = [
    {
      begin: T0,
      end: T0 + HOUR,
      points: [
        // 11 × 999,999,999,999,999 = 10,999,999,999,999,989: odd, past 2^53.
        ...Array.from({ length: 11 }, () => point("units", MAX, MAX)),
        // Nine of the largest and one more: 2^53 + 1 exactly, on quantities and prices.
        ...Array.from({ length: 9 }, () => point("boundary", MAX, MAX)),
        point("boundary", "7199254741002", "7199254741002"),
        // The same, negative.
        ...Array.from({ length: 9 }, () => point("negative", `-${MAX}`, `-${MAX}`)),
        point("negative", "-7199254741002", "-7199254741002"),
        // Mixed signs: partial sums past 2^53, a total of 10,999,999,999,999,988.999999999.
        ...Array.from({ length: 11 }, () => point("mixed", MAX, MAX)),
        point("mixed", "-0.000000001", "-0.000000001"),
        // Nano-units of every limb, just below 2^53 in units: exact both ways.
        point("below", "9007199254740.991", "0.000000001"),
      ],
    },
    {
      begin: T0 + HOUR,
      end: T0 + 2 * HOUR,
      points: Array.from({ length: 11 }, () => point("units", MAX, `-${MAX}.999999999`, "cpu")),
    },
  ];
  const projects = ["units", "boundary", "negative", "mixed", "below"];

  before(async () => {
    backend = await contractBackend();
    const res = await backend.push(frames, { refresh: true });
    expect(res.failed).to.deep.equal([]);
    expect(res.stored).to.equal(frames.reduce((n, df) => n + df.points.length, 0));
  });
  after(async () => backend.drop());

  it("grouped by project_id: every group exact to the nano-unit", async () => {
    const got = await rows(backend, { groupby: ["project_id"], paginate: false });
    for (const project of projects)
      expect(got[JSON.stringify({ project_id: project })], project).to.deep.equal(
        expected(frames, (p) => p.groupby.project_id === project),
      );
    expect(got[JSON.stringify({ project_id: "units" })]!.qty).to.equal("21999999999999978");
    expect(got[JSON.stringify({ project_id: "boundary" })]).to.deep.equal({ qty: "9007199254740993", rate: "9007199254740993" });
    expect(got[JSON.stringify({ project_id: "negative" })]).to.deep.equal({ qty: "-9007199254740993", rate: "-9007199254740993" });
    expect(got[JSON.stringify({ project_id: "mixed" })]!.qty).to.equal("10999999999999988.999999999");
  });

  it("ungrouped, and for one project: exact", async () => {
    expect(Object.values(await rows(backend, {}))).to.deep.equal([expected(frames)]);
    expect(Object.values(await rows(backend, { groupFilters: { project_id: "boundary" } }))).to.deep.equal([
      expected(frames, (p) => p.groupby.project_id === "boundary"),
    ]);
  });

  it("by type and by period: exact in every time group", async () => {
    const got = await rows(backend, { groupby: ["time", "type"], paginate: false, groupFilters: { project_id: "units" } });
    expect(Object.values(got)).to.deep.equal([
      { qty: "10999999999999989", rate: "10999999999999989" },
      { qty: "10999999999999989", rate: "-10999999999999999.999999989" },
    ]);
    const daily = await rows(backend, { groupby: ["time-d"] });
    expect(Object.values(daily)).to.deep.equal([expected(frames)]);
  });

  it("page by page with offsets: the same exact rows as one walk", async () => {
    const walk = await total(backend, { begin: T0, end: T0 + 24 * HOUR, groupby: ["project_id"], paginate: false });
    const paged = [];
    for (let offset = 0; offset < walk.total; offset += 2)
      paged.push(...(await total(backend, { begin: T0, end: T0 + 24 * HOUR, groupby: ["project_id"], offset, limit: 2 })).results);
    expect(paged.map((r) => [r.groups, r.qty, r.rate])).to.deep.equal(walk.results.map((r) => [r.groups, r.qty, r.rate]));
    for (const r of paged)
      expect({ qty: formatNanos(r.qty), rate: formatNanos(r.rate) }).to.deep.equal(
        expected(frames, (p) => p.groupby.project_id === r.groups.project_id),
      );
  });
});
