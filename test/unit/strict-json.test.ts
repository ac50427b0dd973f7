import { expect } from "chai";
import { generateFrames } from "../../src/cli/generate.js";
import { numberAlteration, strictJsonIssues } from "../../src/strict-json.js";

const paths = (text: string) => strictJsonIssues(text).map((i) => i.path);

describe("strict JSON: what JSON.parse would silently alter", () => {
  it("names a key given twice, at any depth, after decoding escapes", () => {
    expect(paths('{"usage":{"cpu":[],"cpu":[]}}')).to.deep.equal(["usage.cpu"]);
    expect(paths('{"dataframes":[{"usage":{"cpu":[{"vol":{"qty":"1","qty":"2"}}]}}]}')).to.deep.equal([
      "dataframes[0].usage.cpu[0].vol.qty",
    ]);
    expect(paths('{"a":1,"\\u0061":2}')).to.deep.equal(["a"]);
    // The same key in sibling objects, and in an object of many keys.
    expect(paths('[{"a":1},{"a":1}]')).to.deep.equal([]);
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`k${k}`, k]));
    expect(paths(JSON.stringify(wide))).to.deep.equal([]);
    expect(paths(JSON.stringify(wide).replace("}", ',"k39":1}'))).to.deep.equal(["k39"]);
  });

  it("names strings and keys with a lone surrogate escape; pairs and plain text pass", () => {
    expect(paths('{"m":{"name":"\\ud800x"}}')).to.deep.equal(["m.name"]);
    expect(paths('{"m":{"\\udc00":"x"}}')).to.deep.equal(["m.\udc00"]);
    expect(paths('{"m":"\\ud83d\\ude00 \\\\ud800 \\"q\\" é"}')).to.deep.equal([]);
  });

  it("names numbers a double does not keep as written; ordinary numbers pass", () => {
    expect(
      paths('{"rid":12345678901234567890,"tiny":1e-400,"huge":1e400,"ok":[0.1,-2.5,1e21,123456789012345,2022,0,-0,1.0,9007199254740993]}'),
    ).to.deep.equal(["rid", "tiny", "huge", "ok[8]"]);
    expect(numberAlteration("12345678901234567890")).to.match(/would be read as 12345678901234567000/);
    expect(numberAlteration("0.30000000000000004")).to.equal(undefined);
    expect(numberAlteration("1.50000000000000000000")).to.equal(undefined);
    expect(numberAlteration("1e-400")).to.match(/would be read as 0/);
  });

  it("leaves text that is not JSON to JSON.parse, without failing on it", () => {
    for (const bad of ["", "{", '{"a":', '{"a" 1}', "[1,,2]", '"unterminated', "{}}", "nul", "[".repeat(100_000)])
      expect(() => strictJsonIssues(bad), bad.slice(0, 10)).to.not.throw();
  });

  it("finds nothing in a generated push of 1,000 points", () => {
    const frame = generateFrames({
      points: 1000,
      projects: 10,
      resourcesPerProject: 100,
      metadataCardinality: 5,
      periodSeconds: 3600,
      start: Date.UTC(2026, 0, 1),
      seed: 1,
    }).next().value;
    expect(strictJsonIssues(JSON.stringify({ dataframes: [frame] }))).to.deep.equal([]);
  });
});
