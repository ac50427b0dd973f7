import { expect } from "chai";
import { DEFAULT_GENERATE, generateFrames, recentStart } from "../../src/cli/generate.js";

describe("generate", () => {
  it("without a start, ends with the current period: every point inside any retention of a period or more", () => {
    const now = Date.parse("2026-12-07T15:42:10+00:00");
    const shape = { ...DEFAULT_GENERATE, points: 1_000, projects: 2, resourcesPerProject: 10 };
    const frames = [...generateFrames({ ...shape, start: recentStart(shape, now) })];
    expect(frames).to.have.length(50);
    expect(frames.at(-1)!.period.begin).to.equal("2026-12-07T15:00:00+00:00");
    expect(frames[0]!.period.begin).to.equal("2026-12-05T14:00:00+00:00");
  });

  it("rounds a partial last period up, so the last frame still holds the current period", () => {
    const now = Date.parse("2026-12-07T00:00:00+00:00");
    const shape = { ...DEFAULT_GENERATE, points: 25, projects: 1, resourcesPerProject: 10, periodSeconds: 60 };
    const frames = [...generateFrames({ ...shape, start: recentStart(shape, now) })];
    expect(frames.map((f) => f.period.begin)).to.deep.equal([
      "2026-12-06T23:58:00+00:00",
      "2026-12-06T23:59:00+00:00",
      "2026-12-07T00:00:00+00:00",
    ]);
  });
});
