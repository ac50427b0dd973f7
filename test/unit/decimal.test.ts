import { expect } from "chai";
import { formatNanos, joinSums, parseDecimal, parseExactDecimal } from "../../src/storage/decimal.js";

describe("decimal", () => {
  it("parses numbers by their shortest form, not their binary expansion", () => {
    expect(parseDecimal(0.1)).to.equal(100_000_000n);
    expect(parseDecimal(1)).to.equal(1_000_000_000n);
    expect(parseDecimal(-2.5)).to.equal(-2_500_000_000n);
    expect(parseDecimal(1e-7)).to.equal(100n);
    expect(parseDecimal(1.5e10)).to.equal(15_000_000_000_000_000_000n);
  });

  it("parses decimal strings, with exponents and leading dots", () => {
    expect(parseDecimal("0.000000001")).to.equal(1n);
    expect(parseDecimal("12.3400")).to.equal(12_340_000_000n);
    expect(parseDecimal(".5")).to.equal(500_000_000n);
    expect(parseDecimal("-1.25E2")).to.equal(-125_000_000_000n);
    expect(parseDecimal(" 7 ")).to.equal(7_000_000_000n);
  });

  it("refuses, in exact mode (every amount a client sends), anything finer than nine decimals; trailing zeros are fine", () => {
    for (const v of [1e-12, "1e-400", "0.0000000001", 0.30000000000000004, "-1.0000000000001"]) {
      const r = parseExactDecimal(v);
      expect(r.ok, String(v)).to.equal(false);
      if (!r.ok) expect(r.reason).to.match(/more than 9 decimal places/);
    }
    expect(parseExactDecimal("1.500000000000")).to.deep.equal({ ok: true, nanos: 1_500_000_000n });
    expect(parseExactDecimal("1e-9")).to.deep.equal({ ok: true, nanos: 1n });
    expect(parseExactDecimal("-0")).to.deep.equal({ ok: true, nanos: 0n });
    expect(parseExactDecimal("abc").ok).to.equal(false);
  });

  it("rounds half to even beyond nine decimals (reading doubles stored by other tools)", () => {
    expect(parseDecimal("0.0000000005")).to.equal(0n);
    expect(parseDecimal("0.0000000015")).to.equal(2n);
    expect(parseDecimal("0.00000000151")).to.equal(2n);
    expect(parseDecimal("0.0000000014999")).to.equal(1n);
    expect(parseDecimal("-0.0000000015")).to.equal(-2n);
  });

  it("rejects what is not a finite decimal", () => {
    for (const bad of ["", "abc", "1.2.3", "NaN", "Infinity", "0x10", "1e", "--1", "1,5"])
      expect(parseDecimal(bad), bad).to.equal(undefined);
    expect(parseDecimal(Number.NaN)).to.equal(undefined);
    expect(parseDecimal(Number.POSITIVE_INFINITY)).to.equal(undefined);
  });

  it("joins the whole and nano parts that earlier template versions stored", () => {
    // 100,000 points of 0.1: nanos sum 1e13, exact in a double.
    expect(formatNanos(joinSums(0, 100_000 * 100_000_000))).to.equal("10000");
  });

  it("formats without trailing zeros", () => {
    expect(formatNanos(100_000_000n)).to.equal("0.1");
    expect(formatNanos(-5n)).to.equal("-0.000000005");
    expect(formatNanos(0n)).to.equal("0");
  });
});

describe("formatNanos on both of its paths", () => {
  /** The reference: BigInt arithmetic throughout, as formatNanos does above 2^53 nano-units. */
  const reference = (n: bigint): string => {
    const negative = n < 0n;
    const abs = negative ? -n : n;
    const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
    return `${negative ? "-" : ""}${abs / 1_000_000_000n}${frac ? "." + frac : ""}`;
  };

  it("writes the same text as BigInt arithmetic, at the edges of a double's exact range and at random", () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    const edges = [
      0n,
      1n,
      -1n,
      999_999_999n,
      1_000_000_000n,
      1_000_000_001n,
      max,
      -max,
      max + 1n,
      -max - 1n,
      max - 1n,
      9_007_199_000_000_000n,
      9_007_198_999_999_999n,
      123_456_789_123_456_789n,
    ];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const values = [...edges];
    for (let i = 0; i < 20_000; i++) {
      const v = (BigInt(random()) * BigInt(random()) * BigInt(random() % 1000)) % (max * 2n);
      values.push(i % 2 === 0 ? v : -v, BigInt(random()) * 1_000_000_000n - BigInt(random() % 7));
    }
    for (const v of values) expect(formatNanos(v), String(v)).to.equal(reference(v));
  });
});

describe("joinSums on both of its paths", () => {
  it("joins units and nano-units exactly, inside and beyond a double's exact integers", () => {
    const reference = (u: number, n: number) => BigInt(u) * 1_000_000_000n + BigInt(n);
    const cases: [number, number][] = [
      [0, 0],
      [1, 5],
      [-1, -5],
      [9_007_199, 254_740_991],
      [9_007_199, 254_740_992],
      [9_007_200, 0],
      [-9_007_199, -254_740_991],
      [2 ** 40, 999_999_999],
      [3, 2 ** 53 - 1],
      [-(2 ** 52), -(2 ** 52)],
      [123_456_789, 123_456_789],
    ];
    for (const [u, n] of cases) expect(joinSums(u, n), `${u} ${n}`).to.equal(reference(u, n));
  });
});
