import { expect } from "chai";
import { idAt, idGuess } from "../../src/storage/search-engine/offset-location.js";

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

describe("idGuess: where to count inside a group of uniform point ids", () => {
  it("aims 8 deviations below the position, at most half the slack, and as far beyond the page", () => {
    const n = 14_286;
    const dev8 = 4 * Math.sqrt(n);
    const g = idGuess(10_000, n, 9_900, 100);
    expect(g.lower * n).to.be.closeTo(10_000 - dev8, 1e-6);
    expect(g.upper! * n).to.be.closeTo(10_100 + dev8, 1e-6);
    // A small slack caps the margin below.
    expect(idGuess(10_000, n, 200, 100).lower * n).to.be.closeTo(9_900, 1e-6);
  });

  it("starts at the first id near the start of a group and leaves the range open past the last id", () => {
    expect(idGuess(10, 20_000, 9_900, 100).lower).to.equal(0);
    expect(idGuess(19_950, 20_000, 9_900, 100).upper).to.equal(undefined);
  });

  it("a group's ids counted below the guesses are within the slack before the position, and the range holds the page, for uniform ids", () => {
    // Deterministic pseudo-random uniform ids (a linear congruential generator), sorted as keywords are.
    let x = 12345;
    const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const n of [12_000, 14_286, 100_000]) {
      // ASCII ids: code-unit order is byte order.
      const ids = Array.from({ length: n }, () => idAt(rand())).sort();
      const below = (id: string) => {
        let lo = 0;
        let hi = ids.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (ids[mid]! < id) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      };
      for (const position of [500, 9_950, Math.floor(n / 2), n - 150]) {
        const g = idGuess(position, n, 9_900, 100);
        const before = below(idAt(g.lower));
        expect(before, `n ${n}, position ${position}`).to.be.at.most(position);
        expect(position - before).to.be.below(9_900);
        const holds = (g.upper === undefined ? n : below(idAt(g.upper))) - before;
        expect(holds).to.be.at.least(Math.min(position + 100, n) - before);
      }
    }
  });
});
