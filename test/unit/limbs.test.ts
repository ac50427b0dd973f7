import { expect } from "chai";
import { formatNanos, MAX_ABS, SCALE } from "../../src/storage/decimal.js";
import { inexactSum, joinLimbs, LIMB_BASE, limbsOf, limbsOfText, MAX_EXACT_POINTS } from "../../src/storage/limbs.js";

const MAX_NANOS = BigInt(MAX_ABS) * SCALE - 1n; // the largest accepted amount, 999,999,999,999,999.999999999

/** What a cluster does: adds the limbs of each point in doubles, in the order given. */
function clusterSums(points: readonly bigint[]): number[] {
  const sums = [0, 0, 0, 0];
  for (const p of points) limbsOf(p).forEach((l, k) => (sums[k]! += l));
  return sums;
}

describe("limbs", function () {
  // Some cases check hundreds of thousands of amounts: on a loaded 2-core machine that passes 2 s.
  this.timeout(30_000);
  it("split an amount into four limbs of its sign and join back, at the extremes of what is accepted", () => {
    for (const n of [
      0n,
      1n,
      -1n,
      999_999n,
      1_000_000n,
      SCALE,
      -SCALE - 1n,
      123_456_789_012_345_678_901_234n,
      MAX_NANOS,
      -MAX_NANOS,
      10n ** 18n,
      -(10n ** 18n) + 1n,
    ]) {
      const limbs = limbsOf(n);
      expect(joinLimbs(limbs), String(n)).to.equal(n);
      for (const l of limbs) {
        expect(Math.abs(l), String(n)).to.be.below(LIMB_BASE);
        expect(Object.is(l, -0), `${n}: a zero limb is 0, not -0`).to.equal(false);
        if (l !== 0) expect(Math.sign(l), String(n)).to.equal(n < 0n ? -1 : 1);
      }
    }
    expect(limbsOf(MAX_NANOS)).to.deep.equal([999_999, 999_999, 999_999, 999_999]);
    expect(limbsOf(-1_500_000_000n)).to.deep.equal([0, -1_500, 0, 0]);
    expect(limbsOfText("12.000000001")).to.deep.equal([1, 12_000, 0, 0]);
    expect(() => limbsOfText("1000000000000000")).to.throw(RangeError);
  });

  it("are the same taken with doubles (below 2^53 nano-units) as from the decimal text, at the edges and at random", () => {
    const safe = BigInt(Number.MAX_SAFE_INTEGER);
    const edges = [
      0n,
      1n,
      -1n,
      999_999n,
      1_000_000n,
      -1_000_000n,
      999_999_999_999n,
      10n ** 12n,
      -(10n ** 12n),
      safe,
      -safe,
      safe + 1n,
      -safe - 1n,
      MAX_NANOS,
    ];
    let seed = 3;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) edges.push(((BigInt(next()) * BigInt(next())) % (safe * 2n)) - safe);
    for (const n of edges) {
      const limbs = limbsOf(n);
      expect(limbs, String(n)).to.deep.equal(limbsOfText(formatNanos(n)));
      for (const l of limbs) expect(Object.is(l, -0), String(n)).to.equal(false);
    }
  });

  it("sum exactly where whole and nano parts did not: 11 points of 999,999,999,999,999 units", () => {
    const points = Array.from({ length: 11 }, () => 999_999_999_999_999n * SCALE);
    const sums = clusterSums(points);
    expect(inexactSum(sums)).to.equal(undefined);
    expect(formatNanos(joinLimbs(sums))).to.equal("10999999999999989");
    // The sum of whole units in one double, as template versions before 5 were summed, rounds.
    expect(BigInt(11 * 999_999_999_999_999)).to.not.equal(10_999_999_999_999_989n);
  });

  it("keep every partial sum within 2^53 for MAX_EXACT_POINTS points of the largest limbs, of either sign", () => {
    // The worst case of the bound in src/storage/limbs.ts, reached in closed form: n points of the
    // largest amount, whose four limbs are all 999,999. Each partial sum is k × 999,999 < 2^53.
    expect(MAX_EXACT_POINTS).to.be.above(9e9); // the 10^9 points nine times over
    const top = MAX_EXACT_POINTS * (LIMB_BASE - 1);
    expect(Number.isSafeInteger(top)).to.equal(true);
    // One more point of the largest limbs could pass 2^53.
    expect((MAX_EXACT_POINTS + 1) * (LIMB_BASE - 1)).to.be.above(Number.MAX_SAFE_INTEGER);
    // The sums of n = MAX_EXACT_POINTS such points join to exactly n times the amount.
    const n = BigInt(MAX_EXACT_POINTS);
    const sums = [top, top, top, top];
    expect(joinLimbs(sums)).to.equal(n * MAX_NANOS);
    expect(joinLimbs(sums.map((s) => -s))).to.equal(-n * MAX_NANOS);
    // Mixed signs: no partial sum exceeds the sum of magnitudes, which is within the bound.
    expect(joinLimbs([top - 2 * 999_999, top - 2 * 999_999, top - 2 * 999_999, top - 2 * 999_999])).to.equal((n - 2n) * MAX_NANOS);
  });

  it("sum exactly, point by point in doubles, 200,000 points of mixed signs and magnitudes", function () {
    this.timeout(30_000); // a loaded CI machine
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const points: bigint[] = [];
    let exact = 0n;
    for (let i = 0; i < 200_000; i++) {
      const magnitude = (BigInt(next()) * BigInt(next()) * BigInt(next())) % MAX_NANOS;
      const p = next() % 2 === 0 ? magnitude : -magnitude;
      points.push(p);
      exact += p;
    }
    const sums = clusterSums(points);
    expect(inexactSum(sums)).to.equal(undefined);
    expect(joinLimbs(sums)).to.equal(exact);
  });

  it("refuse sums that a double may have rounded", () => {
    expect(inexactSum([0, 2 ** 53, 0, 0])).to.match(/not an integer below 2\^53/);
    expect(inexactSum([0.5, 0, 0, 0])).to.match(/not an integer/);
    expect(inexactSum([2 ** 53 - 1, -(2 ** 53 - 1), 0, 0])).to.equal(undefined);
  });
});
