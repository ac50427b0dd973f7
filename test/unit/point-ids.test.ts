import { expect } from "chai";
import { ID_RANGES, idAt, idWindow } from "../../src/storage/opensearch/search.js";

const compareBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("point id space", () => {
  it("idAt grows with its fraction in the byte order keyword sorting uses", () => {
    const ids = Array.from({ length: 200 }, (_, i) => idAt(i / 200));
    expect(ids).to.deep.equal([...ids].sort(compareBytes));
    expect(new Set(ids).size).to.equal(200);
    expect(idAt(0)).to.equal("------");
    expect(idAt(1)).to.equal("zzzzzz");
  });
});

describe("idWindow: the id range of a page inside one group, from its counts per id range", () => {
  const even = (n: number) => Array.from({ length: ID_RANGES }, () => n);
  const within = (id: string, r: { gte?: string; lt?: string }) => (r.gte === undefined || compareBytes(id, r.gte) >= 0) && (r.lt === undefined || compareBytes(id, r.lt) < 0);

  it("skips the ranges before the position by their exact counts and ends the range once it holds the page", () => {
    expect(idWindow(even(100), 250, 100)).to.deep.equal({ range: { gte: idAt(2 / ID_RANGES), lt: idAt(4 / ID_RANGES) }, from: 50 });
    expect(idWindow(even(100), 200, 100)).to.deep.equal({ range: { gte: idAt(2 / ID_RANGES), lt: idAt(3 / ID_RANGES) }, from: 0 });
  });

  it("leaves the first range open below and the last open above", () => {
    expect(idWindow(even(100), 10, 50)).to.deep.equal({ range: { lt: idAt(1 / ID_RANGES) }, from: 10 });
    expect(idWindow(even(100), 100 * ID_RANGES - 30, 100)).to.deep.equal({ range: { gte: idAt((ID_RANGES - 1) / ID_RANGES) }, from: 70 });
    expect(idWindow([5000, ...even(0).slice(1)], 4000, 100)).to.deep.equal({ range: { lt: idAt(1 / ID_RANGES) }, from: 4000 });
    // A page that runs past the last point: no bound at all.
    expect(idWindow([5000, ...even(0).slice(1)], 4950, 100)).to.deep.equal({ range: {}, from: 4950 });
  });

  it("passes over empty ranges", () => {
    const counts = even(0);
    counts[7] = 300;
    counts[20] = 300;
    expect(idWindow(counts, 350, 100)).to.deep.equal({ range: { gte: idAt(20 / ID_RANGES), lt: idAt(21 / ID_RANGES) }, from: 50 });
    expect(idWindow(counts, 250, 100)).to.deep.equal({ range: { gte: idAt(7 / ID_RANGES), lt: idAt(21 / ID_RANGES) }, from: 250 });
  });

  it("gives up where the ranges cannot place the page within the result window", () => {
    // Ids written by another tool, all in one range: the caller bisects or walks instead.
    const counts = even(0);
    counts[3] = 11_000;
    expect(idWindow(counts, 10_500, 100)).to.equal(undefined);
    // Points without an id are in no range: a position past the counted ones.
    expect(idWindow(even(10), 10 * ID_RANGES, 1)).to.equal(undefined);
    expect(idWindow(even(0), 0, 1)).to.equal(undefined);
  });

  it("the ranges cover every id once: each id falls in exactly one of them", () => {
    const ranges = Array.from({ length: ID_RANGES }, (_, k) => {
      const counts = even(0);
      counts[k] = 1;
      return idWindow(counts, 0, 1)!.range;
    });
    for (const id of ["------", "-", "", "zzzzzz", "zzzzzzz", "~", "A", "same-prefix-000001", idAt(0.5), idAt(0.999), "0000000000"]) {
      expect(ranges.filter((r) => within(id, r)), id).to.have.length(1);
    }
  });
});
