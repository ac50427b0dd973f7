import { expect } from "chai";
import { z } from "zod";
import { DataFrameInputSchema } from "../../src/storage/dataframe.js";
import { dataFrameJson } from "../../src/storage/dataframe-json.js";
import { ValidationError } from "../../src/errors.js";
import { parseOrThrow } from "../../src/validation.js";

const point = {
  vol: { unit: "instance", qty: 1 },
  rating: { price: 0.5 },
  groupby: { project_id: "p1", year: 2022 },
  metadata: { flavor: "m1" },
};
const frame = { period: { begin: "2019-07-23T12:00:00Z", end: "2019-07-23T13:00:00Z" }, usage: { instance: [point] } };
const List = z.array(DataFrameInputSchema);

function issuesFor(input: unknown): { path: string; message: string }[] {
  try {
    parseOrThrow(List, input, "dataframes", ["dataframes"]);
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues];
    throw err;
  }
  return [];
}

describe("dataframe schema", () => {
  it("normalizes a CloudKitty dataframe and writes it back in CloudKitty's form", () => {
    const [df] = parseOrThrow(List, [frame], "dataframes");
    expect(df!.points).to.have.length(1);
    expect(df!.points[0]!.qty).to.equal(1_000_000_000n);
    expect(JSON.parse(dataFrameJson(df!))).to.deep.equal({
      period: { begin: "2019-07-23T12:00:00+00:00", end: "2019-07-23T13:00:00+00:00" },
      usage: {
        instance: [
          {
            vol: { unit: "instance", qty: 1 },
            rating: { price: 0.5 },
            groupby: { project_id: "p1", year: 2022 },
            metadata: { flavor: "m1" },
          },
        ],
      },
    });
  });

  it("refuses a groupby or metadata that is not a flat map, naming it", () => {
    const { groupby: _omit, ...noGroupby } = point;
    for (const [p, path] of [
      [noGroupby, "groupby"],
      [{ ...point, groupby: "p1" }, "groupby"],
      [{ ...point, groupby: ["p1"] }, "groupby"],
      [{ ...point, metadata: null }, "metadata"],
    ] as const) {
      expect(issuesFor([{ ...frame, usage: { cpu: [p] } }]), path).to.deep.equal([
        { path: `dataframes[0].usage.cpu[0].${path}`, message: "must be an object: groupby and metadata are flat maps" },
      ]);
    }
  });

  it("takes amounts up to 15 whole digits and 9 decimals, exactly", () => {
    const [df] = parseOrThrow(
      List,
      [
        {
          ...frame,
          usage: {
            cpu: [{ ...point, vol: { unit: "u", qty: "999999999999999.999999999" }, rating: { price: "-999999999999999.999999999" } }],
          },
        },
      ],
      "x",
    );
    expect(df!.points[0]!.qty).to.equal(999_999_999_999_999_999_999_999n);
    expect(df!.points[0]!.price).to.equal(-999_999_999_999_999_999_999_999n);
  });

  it("defaults price to 0 and metadata to {}; takes decimal strings and epoch seconds", () => {
    const [df] = parseOrThrow(
      List,
      [{ period: { begin: "1239781290", end: 1239793490 }, usage: { cpu: [{ vol: { unit: "h", qty: "2.5" }, rating: {}, groupby: {} }] } }],
      "x",
    );
    expect(df!.points[0]!.price).to.equal(0n);
    expect(df!.points[0]!.metadata).to.deep.equal({});
    expect(df!.begin).to.equal(1239781290_000);
  });

  it("names the path of every bad field", () => {
    const bad = [
      frame,
      { period: frame.period, usage: { metric_one: [{ vol: { unit: "u", qty: 1 }, groupby: {} }] } },
      { period: { begin: "2019-07-23T13:00:00Z", end: "2019-07-23T12:00:00Z" }, usage: {} },
      { period: frame.period },
      { period: frame.period, usage: { cpu: [{ ...point, vol: { unit: "u", qty: "lots" } }] } },
      { period: frame.period, usage: { cpu: [{ ...point, groupby: { "a.b": "x", nested: { x: 1 } } }] } },
    ];
    const paths = issuesFor(bad).map((i) => i.path);
    expect(paths).to.include("dataframes[1].usage.metric_one[0].rating");
    expect(paths).to.include("dataframes[2].period.end");
    expect(paths).to.include("dataframes[3].usage");
    expect(paths).to.include("dataframes[4].usage.cpu[0].vol.qty");
    expect(paths).to.include("dataframes[5].usage.cpu[0].groupby.a.b");
    expect(paths).to.include("dataframes[5].usage.cpu[0].groupby.nested");
    expect(paths.some((p) => p.startsWith("dataframes[0]"))).to.equal(false);
  });

  it('refuses every "__proto__" key, named by its full path, before anything else', () => {
    const withReserved = JSON.parse(
      `[${JSON.stringify(frame)}, {"period": ${JSON.stringify(frame.period)}, "usage": {"cpu": [${JSON.stringify(point)}, {"vol": {"unit": "h", "qty": 1}, "groupby": {"__proto__": "x"}, "metadata": {"m": [{"__proto__": 1}]}}]}}]`,
    ) as unknown;
    expect(issuesFor(withReserved)).to.deep.equal([
      { path: "dataframes[1].usage.cpu[1].groupby.__proto__", message: '"__proto__" is a reserved name and cannot be a key' },
      { path: "dataframes[1].usage.cpu[1].metadata.m[0].__proto__", message: '"__proto__" is a reserved name and cannot be a key' },
    ]);
  });

  it("rejects huge numbers, NaN-like strings, far dates and odd metric names", () => {
    const cases: [unknown, string][] = [
      [{ ...frame, usage: { cpu: [{ ...point, vol: { unit: "u", qty: 1e300 } }] } }, "dataframes[0].usage.cpu[0].vol.qty"],
      [{ ...frame, usage: { cpu: [{ ...point, rating: { price: "NaN" } }] } }, "dataframes[0].usage.cpu[0].rating.price"],
      // 16 whole digits, beyond the OpenAPI pattern's 15: refused, even where a double would round it to the bound.
      [{ ...frame, usage: { cpu: [{ ...point, vol: { unit: "u", qty: "1000000000000000" } }] } }, "dataframes[0].usage.cpu[0].vol.qty"],
      [
        { ...frame, usage: { cpu: [{ ...point, rating: { price: "-1000000000000000.000000001" } }] } },
        "dataframes[0].usage.cpu[0].rating.price",
      ],
      [{ ...frame, period: { begin: "0001-01-01T00:00:00Z", end: "2019-01-01T00:00:00Z" } }, "dataframes[0].period.begin"],
      [{ ...frame, usage: { "cpu*": [point] } }, "dataframes[0].usage.cpu*"],
      [{ ...frame, usage: { cpu: [{ ...point, metadata: { k: "x".repeat(2000) } }] } }, "dataframes[0].usage.cpu[0].metadata.k"],
    ];
    for (const [input, path] of cases)
      expect(
        issuesFor([input]).map((i) => i.path),
        path,
      ).to.include(path);
  });
});
