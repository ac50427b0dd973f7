import { expect } from "chai";
import type { DataFrame, RatedPoint } from "../../src/storage/dataframe.js";
import { PointChunks } from "../../src/storage/search-engine/point-chunks.js";

const HOUR = 3_600_000;
const T = Date.UTC(2024, 0, 1);

function point(i: number, extra: Partial<RatedPoint> = {}): RatedPoint {
  return {
    type: i % 2 ? "cpu" : "ram",
    unit: "h",
    qty: BigInt(i % 5) * 1_000_000_000n,
    price: 1n,
    groupby: { project_id: `p${i % 3}` },
    metadata: { m: "x".repeat(i % 7) },
    ...extra,
  };
}

// Identical points (i % 30 repeats): their ids come from their occurrence count, which chunking must not disturb.
const frames: DataFrame[] = [0, 1, 2].map((f) => ({
  begin: T + f * HOUR,
  end: T + (f + 1) * HOUR,
  points: Array.from({ length: 100 }, (_, i) => point(i % 30)),
}));
const refs = frames.flatMap((df, dataframe) =>
  df.points.map((p, index) => ({ dataframe, point: p, index, partition: "rs-points-2024.01" })),
);

function allLines(limits: { docs: number; bytes: number }): { chunks: number; lines: string[] } {
  const source = new PointChunks(frames, refs, limits);
  const lines: string[] = [];
  let chunks = 0;
  while (!source.done) {
    const chunk = source.take();
    expect(chunk.length).to.be.greaterThan(0);
    expect(chunk.length).to.be.at.most(limits.docs);
    const bytes = chunk.reduce((n, p) => n + p.lines.length, 0);
    if (chunk.length > 1) expect(bytes).to.be.at.most(limits.bytes);
    lines.push(...chunk.map((p) => p.lines));
    chunks++;
  }
  return { chunks, lines };
}

describe("PointChunks: a push's bulk lines, a chunk at a time", () => {
  it("gives every point the same id and document whatever the chunk limits, cut by count or by bytes", () => {
    const whole = allLines({ docs: 10_000, bytes: 100_000_000 });
    expect(whole.chunks).to.equal(1);
    expect(whole.lines).to.have.length(300);
    const ids = whole.lines.map((l) => /"_id":"([^"]+)"/.exec(l)![1]);
    // Ten copies of each content in a frame: ten ids, one per occurrence.
    expect(new Set(ids).size).to.equal(300);
    for (const limits of [
      { docs: 1, bytes: 100_000_000 },
      { docs: 7, bytes: 100_000_000 },
      { docs: 1000, bytes: 2_000 },
      { docs: 1000, bytes: 1 },
    ]) {
      const cut = allLines(limits);
      expect(cut.chunks, JSON.stringify(limits)).to.be.greaterThan(1);
      expect(cut.lines, JSON.stringify(limits)).to.deep.equal(whole.lines);
    }
  });

  it("says which points no chunk took", () => {
    const source = new PointChunks(frames, refs, { docs: 120, bytes: 100_000_000 });
    expect(source.take()).to.have.length(120);
    const rest = source.remaining();
    expect(rest).to.have.length(180);
    expect(rest[0]).to.deep.include({ dataframe: 1, index: 20 });
    expect(source.take().map((p) => [p.dataframe, p.index])).to.deep.equal(rest.slice(0, 120).map((r) => [r.dataframe, r.index]));
  });
});
