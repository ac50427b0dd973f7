import { expect } from "chai";
import { daysOfMonth, DAY_MS } from "../../src/storage/search-engine/rollups/rollup-calendar.js";
import { monthSignature, planRollups, type DayState, type MonthState } from "../../src/storage/search-engine/rollups/rollup-plan.js";
import { rollupQuery, uncovered } from "../../src/storage/search-engine/rollups/rollup-reads.js";
import { sumAggregations } from "../../src/storage/search-engine/aggregations.js";

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
const clean = (build: string): DayState => ({ status: "clean", build });

/** Every day of November 2026 clean at build `b<day of month>`. */
function cleanNovember(): Map<number, DayState> {
  return new Map(daysOfMonth(day("2026-11-01")).map((d) => [d, clean(`b${new Date(d).getUTCDate()}`)]));
}

describe("rollup plan", () => {
  const nov = day("2026-11-01");
  const dec = day("2026-12-01");
  const base = { metadataFilters: false, monthLevel: true, months: new Map<number, MonthState>() };

  it("walks the states, not the window: a window of ten thousand years with two clean days", () => {
    const days = new Map([
      [nov, clean("x")],
      [dec, clean("y")],
    ]);
    const plan = planRollups({
      ...base,
      monthLevel: false,
      begin: Date.parse("0001-01-01T00:00:00Z"),
      end: Date.parse("9999-01-01T00:00:00Z"),
      days,
    });
    expect(plan).to.deep.include({ served: "rollups", keys: ["d:2026-11-01:x", "d:2026-12-01:y"], rollupDays: 2 });
  });

  it("answers whole clean days from rollups, partial and dirty days from raw points", () => {
    const days = cleanNovember();
    days.set(day("2026-11-10"), { status: "dirty" });
    const plan = planRollups({ ...base, monthLevel: false, begin: nov + 3_600_000, end: day("2026-11-12") + 3_600_000, days });
    expect(plan.served).to.equal("rollups");
    if (plan.served !== "rollups") return;
    // Nov 1 is partial (begins at 01:00), Nov 10 dirty, Nov 12 partial: 8 days from rollups.
    expect(plan.keys).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9, 11].map((n) => `d:2026-11-${String(n).padStart(2, "0")}:b${n}`));
    expect(plan.covered).to.deep.equal([
      { start: day("2026-11-02"), end: day("2026-11-10") },
      { start: day("2026-11-11"), end: day("2026-11-12") },
    ]);
    expect(plan.rollupDays).to.equal(9);
    expect(plan.rawDays).to.equal(3);
  });

  it("uses a month's rollup only while every one of its days is at the build it was made from", () => {
    const days = cleanNovember();
    const signature = monthSignature(nov, days)!;
    const months = new Map([[nov, { build: "m1", days: signature }]]);
    const whole = planRollups({ ...base, begin: nov, end: dec, days, months });
    expect(whole).to.deep.include({ served: "rollups", keys: ["m:2026-11:m1"], covered: [{ start: nov, end: dec }], rollupDays: 30 });
    // One day rebuilt since: the month is out of date, its days are used.
    days.set(day("2026-11-05"), clean("b5-again"));
    const stale = planRollups({ ...base, begin: nov, end: dec, days, months });
    expect(stale.served === "rollups" && stale.keys.length).to.equal(30);
    // A day dirty: no month signature at all.
    days.set(day("2026-11-05"), { status: "dirty" });
    expect(monthSignature(nov, days)).to.equal(undefined);
  });

  it("a day with no state counts in a month's signature as empty, and a state appearing there invalidates it", () => {
    const days = new Map([[nov, clean("a")]]);
    const signature = monthSignature(nov, days)!;
    expect(signature.split(",")).to.have.length(30);
    expect(signature.startsWith("a,-,-")).to.equal(true);
    days.set(day("2026-11-20"), { status: "dirty" });
    expect(monthSignature(nov, days)).to.equal(undefined);
  });

  it("no month rollups by day or week, nor on day partitions; metadata filters and groupby=time read raw points", () => {
    const days = cleanNovember();
    const months = new Map([[nov, { build: "m1", days: monthSignature(nov, days)! }]]);
    for (const input of [{ time: "time-d" as const }, { time: "time-w" as const }, { monthLevel: false }]) {
      const plan = planRollups({ ...base, begin: nov, end: dec, days, months, ...input });
      expect(plan.served === "rollups" && plan.keys.length, JSON.stringify(input)).to.equal(30);
    }
    expect(planRollups({ ...base, begin: nov, end: dec, days, months, time: "time-m" })).to.deep.include({ keys: ["m:2026-11:m1"] });
    expect(planRollups({ ...base, begin: nov, end: dec, days, months, metadataFilters: true })).to.deep.include({
      served: "raw",
      reason: "metadata_filters",
    });
    expect(planRollups({ ...base, begin: nov, end: dec, days, months, time: "time" })).to.deep.include({
      served: "raw",
      reason: "time_by_period",
    });
    expect(planRollups({ ...base, begin: nov + 1, end: nov + DAY_MS, days, months })).to.deep.include({
      served: "raw",
      reason: "no_clean_day",
      rawDays: 1,
    });
  });

  it("the search: raw points only in the uncovered ranges, and the rollup documents of the plan, with the type and groupby filters", () => {
    const days = cleanNovember();
    days.set(day("2026-11-02"), { status: "dirty" });
    const scope = { begin: nov + 3_600_000, end: day("2026-11-04"), metricTypes: ["cpu"], groupFilters: { project_id: "p1" } };
    const plan = planRollups({ ...base, monthLevel: false, begin: scope.begin, end: scope.end, days });
    const planned = rollupQuery(scope, plan);
    // Raw points are read: every limb is summed.
    expect(planned.limbs).to.equal(undefined);
    const query = planned.query as { bool: { should: { bool: { filter: Record<string, unknown>[] } }[] } };
    const [raw, rollups] = query.bool.should;
    // Nov 1 from 01:00 and Nov 2 (dirty) from raw points; Nov 3 from its rollup.
    expect(raw!.bool.filter[0]).to.deep.equal({ range: { start: { gte: scope.begin, lt: day("2026-11-03"), format: "epoch_millis" } } });
    expect(raw!.bool.filter).to.have.length(4);
    expect(rollups!.bool.filter[0]).to.deep.equal({ terms: { rollup: ["d:2026-11-03:b3"] } });
    expect(rollups!.bool.filter).to.have.length(3);
  });

  it("a window served whole from rollups sends no raw part", () => {
    const days = cleanNovember();
    const plan = planRollups({ ...base, monthLevel: false, begin: nov, end: day("2026-11-03"), days });
    expect(rollupQuery({ begin: nov, end: day("2026-11-03") }, plan)).to.deep.equal({
      query: { bool: { filter: [{ terms: { rollup: ["d:2026-11-01:b1", "d:2026-11-02:b2"] } }] } },
    });
    expect(
      uncovered(0, 10, [
        { start: 2, end: 4 },
        { start: 4, end: 6 },
        { start: 8, end: 12 },
      ]),
    ).to.deep.equal([
      { start: 0, end: 2 },
      { start: 6, end: 8 },
    ]);
  });

  it("the limbs to sum: the union of those the builds read recorded, none known where one did not record them, all where raw points are read", () => {
    const days = new Map<number, DayState>([
      [day("2026-11-01"), { status: "clean", build: "b1", limbs: ["qty_e6"] }],
      [day("2026-11-02"), { status: "clean", build: "b2", limbs: ["price_e0", "qty_e6"] }],
    ]);
    const window = { begin: nov, end: day("2026-11-03") };
    const plan = planRollups({ ...base, ...window, monthLevel: false, days });
    expect(plan).to.deep.include({ limbs: ["price_e0", "qty_e6"] });
    expect(rollupQuery(window, plan).limbs).to.deep.equal(["price_e0", "qty_e6"]);
    // A day whose build recorded no limbs (built before they were recorded): every limb.
    days.set(day("2026-11-02"), { status: "clean", build: "b2" });
    expect(planRollups({ ...base, ...window, monthLevel: false, days })).to.not.have.property("limbs");
    // Days whose rollups are all zero: no limb at all.
    days.set(day("2026-11-01"), { status: "clean", build: "b1", limbs: [] });
    days.set(day("2026-11-02"), { status: "clean", build: "b2", limbs: [] });
    expect(planRollups({ ...base, ...window, monthLevel: false, days })).to.deep.include({ limbs: [] });
    // A window with a raw part: every limb, whatever the rollups hold.
    expect(
      rollupQuery({ begin: nov + 1, end: window.end }, planRollups({ ...base, ...window, begin: nov + 1, monthLevel: false, days })).limbs,
    ).to.equal(undefined);
  });

  it("sumAggregations: the named limbs, and the whole and nano parts only where a partition holds them", () => {
    expect(Object.keys(sumAggregations({ limbs: ["qty_e6", "price_e0"], legacy: false })).sort()).to.deep.equal(["p0", "q6"]);
    expect(Object.keys(sumAggregations({ limbs: [], legacy: true })).sort()).to.deep.equal(["pn", "pu", "qn", "qu"]);
    expect(Object.keys(sumAggregations({ legacy: false }))).to.have.length(8);
  });
});
