import { expect } from "chai";
import RandExpModule from "randexp";
import { DataFrameInputSchema } from "../../src/storage/dataframe.js";
import {
  COMPACT_TIMESTAMP_PATTERN,
  EPOCH_SECONDS_NUMBER,
  EPOCH_SECONDS_PATTERN,
  TIMESTAMP_PATTERNS,
  TIMESTAMP_STRING_PATTERN,
  parseTimestamp,
} from "../../src/storage/time.js";

/**
 * The timestamp patterns /openapi.json publishes against what the server accepts: strings generated from
 * each pattern are accepted, and strings of the same shape with random digits (most of them dates that
 * do not exist, times past 23:59:59, fractions finer than a millisecond, offsets past 23:59, epochs past
 * 9999) are accepted exactly when a pattern matches them. The one rule a pattern cannot state: with a
 * UTC offset, the instant must still fall between 1970 and 9999.
 */
// randexp is CommonJS whose module.exports is the class, while its types declare an ES default export.
const RandExp = RandExpModule as unknown as typeof RandExpModule.default;
const SEED = 20261207;
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);
function generator(pattern: string): () => string {
  // randexp's parser reads \uXXXX in a class as letters: give it the characters themselves.
  const r = new RandExp(pattern.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
  r.max = 2;
  r.randInt = (a: number, b: number) => a + Math.floor(random() * (b - a + 1));
  return () => r.gen();
}

const published = TIMESTAMP_PATTERNS.map((p) => new RegExp(p));
const matchesPattern = (s: string) => published.some((re) => re.test(s));
/** A string the patterns admit but the server refuses only for the offset rule. */
const offsetOutOfRange = (s: string) => {
  const t = parseTimestamp(s);
  return !t.ok && /[+-]\d{2}:?\d{2}\s*$/.test(s) && t.reason === "must be between 1970-01-01 and 9999-12-31";
};

describe("timestamp patterns published in /openapi.json", function () {
  this.timeout(30_000);
  for (const [name, pattern] of [
    ["ISO 8601", TIMESTAMP_STRING_PATTERN],
    ["compact", COMPACT_TIMESTAMP_PATTERN],
    ["epoch seconds", EPOCH_SECONDS_PATTERN],
  ] as const) {
    it(`every string generated from the ${name} pattern is accepted (seed ${SEED})`, () => {
      const next = generator(pattern);
      for (let i = 0; i < 3000; i++) {
        const s = next();
        expect(new RegExp(pattern).test(s), JSON.stringify(s)).to.equal(true);
        if (!offsetOutOfRange(s)) expect(parseTimestamp(s), JSON.stringify(s)).to.include({ ok: true });
      }
    });
  }

  // The server's own shapes, with any digits: its acceptance and the patterns' must agree.
  const shapes = {
    // Digits drawn near the bounds (months to 19, days to 39, hours to 29, minutes to 69), so that many
    // strings are valid and many fall just outside.
    "ISO 8601":
      "^\\s{0,1}(19[0-9]{2}|[0-9]{4})-[01][0-9]-[0-3][0-9]([T ][0-2][0-9]:[0-6][0-9](:[0-6][0-9](\\.[0-9]{1,10})?)?)?(Z|[+-][0-2][0-9]:?[0-6][0-9])?\\s{0,1}$",
    compact: "^(19[0-9]{2}|[0-9]{4})[01][0-9][0-3][0-9]T[0-2][0-9][0-6][0-9][0-6][0-9]Z?$",
    "epoch seconds": "^[0-9]{1,13}(\\.[0-9]{1,6})?$",
  };
  for (const [name, shape] of Object.entries(shapes)) {
    it(`a ${name} string with random digits is accepted exactly when a pattern matches it`, () => {
      const next = generator(shape);
      let accepted = 0;
      for (let i = 0; i < 20000; i++) {
        const s = next();
        if (offsetOutOfRange(s)) continue;
        expect(parseTimestamp(s).ok, JSON.stringify(s)).to.equal(matchesPattern(s));
        if (matchesPattern(s)) accepted++;
      }
      // Both outcomes must occur often enough for the comparison to mean something.
      expect(accepted).to.be.within(50, 19950);
    });
  }

  it("the values just outside each pattern are refused by both", () => {
    const outside = [
      "2023-02-29T00:00:00Z", // not a leap year
      "2100-02-29", // a century that is not one
      "2024-04-31T00:00:00Z",
      "2024-13-01",
      "2024-00-10",
      "2024-01-00",
      "2024-01-01T24:00:00Z",
      "2024-01-01T23:60:00Z",
      "2024-01-01T23:59:60Z",
      "2024-01-01T00:00:00.0001Z", // finer than a millisecond
      "2024-01-01T00:00:00.1234567890Z", // ten digits
      "2024-01-01T00:00:00+24:00",
      "2024-01-01T00:00:00+05:60",
      "1969-12-31T23:59:59Z",
      "0077-05-09", // the year 77, never 1977
      "2024-01-01T00:00Z:00",
      "20230229T000000Z",
      "20240101T000000",
      "20240101T240000Z",
      "253402300800",
      "1234567890123",
      "1700000000.0001",
      "-1",
      "",
    ];
    for (const s of outside) {
      expect(matchesPattern(s), JSON.stringify(s)).to.equal(false);
      expect(parseTimestamp(s).ok, JSON.stringify(s)).to.equal(false);
    }
    for (const s of [
      "2024-02-29T00:00:00Z",
      "2000-02-29",
      "20240229T000000Z",
      "253402300799.999",
      " 2024-01-01 00:00 ",
      "9999-12-31T23:59:59.999Z",
    ]) {
      expect(matchesPattern(s), JSON.stringify(s)).to.equal(true);
      expect(parseTimestamp(s).ok, JSON.stringify(s)).to.equal(true);
    }
  });

  it("a push's period takes what the patterns and the number range admit, and refuses what they do not", () => {
    const frame = (begin: string | number, end: string | number) => ({ period: { begin, end }, usage: {} });
    const iso = generator(TIMESTAMP_STRING_PATTERN);
    for (let i = 0; i < 200; i++) {
      const s = iso();
      if (offsetOutOfRange(s) || (parseTimestamp(s) as { ms: number }).ms >= Date.UTC(9999, 11, 31)) continue;
      expect(DataFrameInputSchema.safeParse(frame(s, "9999-12-31T00:00:00Z")).success, s).to.equal(true);
    }
    for (const n of [0, 1, 1700000000, 1700000000.125, EPOCH_SECONDS_NUMBER.maximum - 1])
      expect(DataFrameInputSchema.safeParse(frame(n, EPOCH_SECONDS_NUMBER.maximum)).success, String(n)).to.equal(true);
    for (const n of [-1, 1700000000.0001, EPOCH_SECONDS_NUMBER.maximum + 1])
      expect(DataFrameInputSchema.safeParse(frame(n, EPOCH_SECONDS_NUMBER.maximum + 2)).success, String(n)).to.equal(false);
  });
});
