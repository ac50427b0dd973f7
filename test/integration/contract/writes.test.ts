import { expect } from "chai";
import { contractBackend } from "../../support/cluster.js";
import { HOUR, T0, dec, expectedSums, scenarioFrames } from "../../support/data.js";
import { retrieve, total } from "../../../src/storage/reads.js";
import { forEachEngine } from "../../support/engines.js";

type Backend = Awaited<ReturnType<typeof contractBackend>>;
const WINDOW = { begin: T0, end: T0 + 3 * HOUR };

forEachEngine("contract: pushes that store nothing twice, and deletes", () => {
  let backend: Backend;
  beforeEach(async () => {
    backend = await contractBackend();
  });
  afterEach(async () => backend.drop());

  it("pushing the same payload twice stores nothing twice", async () => {
    const first = await backend.push(scenarioFrames(), { refresh: true });
    const before = await total(backend, { ...WINDOW, groupby: ["project_id"] });
    // The retry arrives with its points in another order: ids do not depend on order.
    const shuffled = scenarioFrames().map((df) => ({ ...df, points: [...df.points].reverse() }));
    const second = await backend.push(shuffled, { refresh: true });
    expect(first).to.include({ points: 84, stored: 84, duplicates: 0 });
    expect(second).to.include({ points: 84, stored: 0, duplicates: 84 });
    expect((await retrieve(backend, { ...WINDOW, paginate: false })).total).to.equal(84);
    expect(await total(backend, { ...WINDOW, groupby: ["project_id"] })).to.deep.equal(before);
  });

  it("identical points: all kept within a push however framed; a push sent again stores nothing twice", async () => {
    const p = { type: "cpu", unit: "h", qty: dec(1), price: dec(1), groupby: { project_id: "x" }, metadata: {} };
    const frame = (...points: (typeof p)[]) => ({ begin: T0, end: T0 + HOUR, points });
    // Twice in one dataframe, or once in each of two dataframes of the period: the same two points.
    expect(await backend.push([frame(p, p)])).to.deep.include({ points: 2, stored: 2, duplicates: 0, failed: [] });
    expect(await backend.push([frame(p), frame(p)])).to.deep.include({ points: 2, stored: 0, duplicates: 2, failed: [] });
    // A third occurrence in one request is a third point; the first two are recognized.
    expect(await backend.push([frame(p, p, p)])).to.deep.include({ points: 3, stored: 1, duplicates: 2, failed: [] });
    expect((await total(backend, WINDOW)).results[0]!.rate).to.equal(dec(3));
  });

  it("deleting one project's points in a window leaves the other project's", async () => {
    await backend.push(scenarioFrames(), { refresh: true });
    const res = await backend.delete({ begin: T0 + HOUR, end: T0 + 2 * HOUR, groupFilters: { project_id: "proj-a" } });
    expect(res.deleted).to.equal(14);
    const left = await retrieve(backend, { ...WINDOW, paginate: false });
    expect(left.total).to.equal(84 - 14);
    const inWindow = await retrieve(backend, { begin: T0 + HOUR, end: T0 + 2 * HOUR, paginate: false });
    expect(inWindow.dataframes.flatMap((d) => d.points).every((p) => p.groupby.project_id === "proj-b")).to.equal(true);
    expect((await total(backend, { ...WINDOW, groupFilters: { project_id: "proj-b" } })).results[0]!.rate).to.equal(
      expectedSums(3, (_h, p) => p === 1).rate,
    );
  });

  it("delete honours metric types and metadata filters, and with no window deletes every match", async () => {
    await backend.push(scenarioFrames(), { refresh: true });
    expect((await backend.delete({ metricTypes: "cpu", filters: { flavor: "f0" } })).deleted).to.equal(6);
    expect((await retrieve(backend, { ...WINDOW, paginate: false })).total).to.equal(78);
  });

  it("maps a label that is a number in one point and a string in another without conflict", async () => {
    const res = await backend.push(
      [
        {
          begin: T0,
          end: T0 + HOUR,
          points: [{ type: "a", unit: "u", qty: dec(1), price: dec(1), groupby: { year: 2022 }, metadata: { v: 1.5 } }],
        },
        {
          begin: T0 + HOUR,
          end: T0 + 2 * HOUR,
          points: [{ type: "a", unit: "u", qty: dec(1), price: dec(1), groupby: { year: "2023" }, metadata: { v: true } }],
        },
      ],
      { refresh: true },
    );
    expect(res.failed).to.deep.equal([]);
    const byYear = await total(backend, { ...WINDOW, groupby: ["year"] });
    expect(byYear.results.map((r) => r.groups.year)).to.deep.equal(["2022", "2023"]);
  });
});
