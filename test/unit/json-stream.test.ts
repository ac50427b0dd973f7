import { expect } from "chai";
import { detectFormat, records, type SourceFormat } from "../../src/cli/json-stream.js";

let lastFormat: SourceFormat | undefined;

async function read(text: string, chunkSize = 7): Promise<{ index: number; line: number; value: unknown }[]> {
  async function* chunks() {
    for (let i = 0; i < text.length; i += chunkSize) yield text.slice(i, i + chunkSize);
  }
  const out = [];
  for await (const r of records(chunks(), (f) => (lastFormat = f)))
    out.push({ index: r.index, line: r.line, value: JSON.parse(r.text) as unknown });
  return out;
}

describe("dataframe sources", () => {
  const a = { period: { begin: 1, end: 2 }, usage: { x: [{ s: 'a]}"[{' }] } };
  const b = { period: { begin: 2, end: 3 }, usage: {} };

  for (const size of [1, 3, 64, 10_000]) {
    it(`splits NDJSON, a JSON list and {"dataframes": [...]} alike (chunks of ${size})`, async () => {
      const nd = await read(`${JSON.stringify(a)}\n\n${JSON.stringify(b)}\n`, size);
      expect(nd).to.deep.equal([
        { index: 0, line: 1, value: a },
        { index: 1, line: 3, value: b },
      ]);
      const list = await read(`[\n ${JSON.stringify(a)},\n ${JSON.stringify(b)}\n]`, size);
      expect(list.map((r) => r.value)).to.deep.equal([a, b]);
      expect(list.map((r) => r.line)).to.deep.equal([2, 3]);
      expect(lastFormat).to.equal("json-list");
      const wrapped = await read(JSON.stringify({ dataframes: [a, b] }, null, 2), size);
      expect(wrapped.map((r) => r.value)).to.deep.equal([a, b]);
      expect(lastFormat).to.equal("dataframes-object");
      // A saved page of GET /v2/dataframes, or CloudKitty's answer: the list is not the first key.
      const page = await read(JSON.stringify({ total: 2, dataframes: [a, b] }, null, 2), size);
      expect(page.map((r) => r.value)).to.deep.equal([a, b]);
      expect(lastFormat).to.equal("dataframes-object");
      const nested = await read(JSON.stringify({ meta: { dataframes: 1, s: '"dataframes":' }, dataframes: [a] }), size);
      expect(nested.map((r) => r.value)).to.deep.equal([a]);
    });
  }

  it("tells NDJSON from one JSON document by the first object's top-level keys", () => {
    expect(detectFormat(JSON.stringify(a) + "\n", false)).to.equal("ndjson");
    expect(detectFormat('{"period": {"begin": 1}, "usage": {"dataframes": [', false)).to.equal(undefined);
    expect(detectFormat('{"total": 3, "dataframes": [', false)).to.equal("dataframes-object");
    expect(detectFormat('{"total": 3, "data', false)).to.equal(undefined);
    expect(detectFormat('{"total": 3, "data', true)).to.equal("ndjson");
    expect(detectFormat("  [", false)).to.equal("json-list");
    expect(detectFormat("   ", false)).to.equal(undefined);
  });

  it("keeps a broken NDJSON line as a record, so it can be rejected with its line number", async () => {
    const out: { line: number; text: string }[] = [];
    async function* one() {
      yield `${JSON.stringify(a)}\n{"period": oops\n${JSON.stringify(b)}`;
    }
    for await (const r of records(one())) out.push({ line: r.line, text: r.text });
    expect(out.map((r) => r.line)).to.deep.equal([1, 2, 3]);
    expect(out[1]!.text).to.equal('{"period": oops');
  });
});
