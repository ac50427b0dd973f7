import { expect } from "chai";
import { ExactDecimal, stringifyExact } from "../../src/api/exact-json.js";
import { parseDecimal } from "../../src/storage/decimal.js";

const exact = (text: string) => new ExactDecimal(parseDecimal(text)!);

describe("exact JSON amounts", () => {
  it("writes amounts a double cannot hold as their exact decimal text, as JSON numbers", () => {
    const text = stringifyExact({ qty: exact("123456789.123456789"), price: exact("0.000000001"), neg: exact("-2.5"), zero: exact("0") });
    expect(text).to.equal('{"qty":123456789.123456789,"price":0.000000001,"neg":-2.5,"zero":0}');
  });

  it("leaves strings alone, even ones that look like the marker of another process", () => {
    const forged = "\u0000000000000000000000:1.5";
    const text = stringifyExact({ s: forged, list: [exact("1"), "1"] });
    expect(JSON.parse(text)).to.deep.equal({ s: forged, list: [1, "1"] });
  });

  it("outside stringifyExact, writes the nearest double rather than a marker", () => {
    expect(JSON.stringify({ q: exact("0.1") })).to.equal('{"q":0.1}');
  });
});
