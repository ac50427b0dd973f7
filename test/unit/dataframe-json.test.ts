import { expect } from "chai";
import type { DataFrame } from "../../src/storage/dataframe.js";
import { dataFrameJson, dataFramesNdjson } from "../../src/storage/dataframe-json.js";
import { framesOfPage } from "../../src/storage/frames.js";
import { parseDecimal } from "../../src/storage/decimal.js";
import { documentJson, fromDocument, periodTexts, pointId } from "../../src/storage/search-engine/documents.js";

const n = (text: string) => parseDecimal(text)!;
const FRAME: DataFrame = {
  begin: Date.UTC(2024, 0, 1),
  end: Date.UTC(2024, 0, 1, 0, 0, 1, 500),
  points: [
    {
      type: "instance",
      unit: "instance",
      qty: n("123456789.123456789"),
      price: n("0.000000001"),
      groupby: { project_id: 'p"1\\', id: "é\u2028" },
      metadata: { flavor: "m1", n: 3, ok: true, none: null },
    },
    { type: "image.size", unit: "MiB", qty: n("-2.5"), price: n("0"), groupby: {}, metadata: {} },
    { type: "instance", unit: "instance", qty: n("1"), price: n("10000"), groupby: { project_id: "p2" }, metadata: { "line\nbreak": "x" } },
  ],
};

describe("dataframe JSON, written directly (every answer that holds dataframes: pages, paginate=false, the export)", () => {
  it("is CloudKitty's output form, points grouped by type in order of first appearance, amounts exact as number literals", () => {
    expect(dataFrameJson(FRAME)).to.equal(
      '{"period":{"begin":"2024-01-01T00:00:00+00:00","end":"2024-01-01T00:00:01.500+00:00"},"usage":{' +
        '"instance":[{"vol":{"unit":"instance","qty":123456789.123456789},"rating":{"price":0.000000001},"groupby":{"project_id":"p\\"1\\\\","id":"\u00e9\u2028"},"metadata":{"flavor":"m1","n":3,"ok":true,"none":null}},' +
        '{"vol":{"unit":"instance","qty":1},"rating":{"price":10000},"groupby":{"project_id":"p2"},"metadata":{"line\\nbreak":"x"}}],' +
        '"image.size":[{"vol":{"unit":"MiB","qty":-2.5},"rating":{"price":0},"groupby":{},"metadata":{}}]}}',
    );
    expect(dataFrameJson({ begin: FRAME.begin, end: FRAME.end, points: [] })).to.equal(
      '{"period":{"begin":"2024-01-01T00:00:00+00:00","end":"2024-01-01T00:00:01.500+00:00"},"usage":{}}',
    );
  });

  it("parses back to the very labels and, through exact parsing, the very amounts", () => {
    const parsed = JSON.parse(dataFrameJson(FRAME)) as { usage: Record<string, { groupby: unknown; metadata: unknown }[]> };
    expect(parsed.usage.instance!.map((p) => [p.groupby, p.metadata])).to.deep.equal(
      [FRAME.points[0], FRAME.points[2]].map((p) => [p!.groupby, p!.metadata]),
    );
    const amounts = [...dataFrameJson(FRAME).matchAll(/"(qty|price)":(-?[0-9.]+)/g)].map((m) => m[2]);
    expect(amounts).to.deep.equal(["123456789.123456789", "0.000000001", "1", "10000", "-2.5", "0"]);
  });
});

describe("stored documents read back", () => {
  it("ratestore's own documents (the fast path) read as the schema reads them", () => {
    for (const p of FRAME.points) {
      const doc = JSON.parse(documentJson(periodTexts(FRAME), p, pointId("k", 0))) as Record<string, unknown>;
      const read = fromDocument(doc);
      expect(read).to.deep.equal({
        begin: FRAME.begin,
        end: FRAME.end,
        point: { type: p.type, unit: p.unit, qty: p.qty, price: p.price, groupby: p.groupby, metadata: p.metadata },
      });
    }
  });

  it("other documents go through the schema: CloudKitty's own are read from the doubles, malformed ones are refused", () => {
    const ck = {
      start: "2024-01-01T00:00:00+00:00",
      end: "2024-01-01T01:00:00+00:00",
      type: "cpu",
      unit: "core",
      qty: 1.5,
      price: 0.25,
      groupby: { project_id: "p" },
      metadata: {},
    };
    expect(fromDocument(ck).point.qty).to.equal(n("1.5"));
    expect(fromDocument(ck).point.price).to.equal(n("0.25"));
    const own = JSON.parse(documentJson(periodTexts(FRAME), FRAME.points[0]!, pointId("k", 0))) as Record<string, unknown>;
    expect(() => fromDocument({ ...own, groupby: { nested: { a: 1 } } })).to.throw();
    expect(() => fromDocument({ ...own, type: 7 })).to.throw();
    // As the cluster's answer is parsed (JSON.parse keeps "__proto__" as an own key): refused, not dropped.
    expect(() =>
      fromDocument(
        JSON.parse(
          '{"start":"2024-01-01T00:00:00Z","end":"2024-01-01T01:00:00Z","type":"cpu","qty":1,"price":1,"groupby":{"__proto__":"x"}}',
        ),
      ),
    ).to.throw(/reserved name/);
    expect(() =>
      fromDocument(
        JSON.parse(
          '{"start":"2024-01-01T00:00:00Z","end":"2024-01-01T01:00:00Z","type":"cpu","qty":1,"price":1,"metadata":{"__proto__":"x"}}',
        ),
      ),
    ).to.throw(/reserved name/);
  });
});

describe("a page of points as NDJSON dataframes", () => {
  it("groups adjacent points of one period, cuts at 1,000 points, and ends every line", () => {
    const H = 3_600_000;
    const point = FRAME.points[1]!;
    const page = [
      ...Array.from({ length: 1001 }, () => ({ begin: 0, end: H, point })),
      { begin: H, end: 2 * H, point },
      { begin: 0, end: H, point },
    ];
    const frames = framesOfPage(page);
    expect(frames.map((f) => [f.begin, f.points.length])).to.deep.equal([
      [0, 1000],
      [0, 1],
      [H, 1],
      [0, 1],
    ]);
    const text = dataFramesNdjson(frames);
    expect(text.endsWith("\n")).to.equal(true);
    expect(text).to.equal(frames.map((f) => dataFrameJson(f) + "\n").join(""));
  });
});
