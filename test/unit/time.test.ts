import { expect } from "chai";
import { COMPACT_TIMESTAMP_PATTERN, TIMESTAMP_STRING_PATTERN, formatTimestamp, parseTimestamp } from "../../src/storage/time.js";

const ms = (s: string) => Date.parse(s);

describe("time", () => {
  it("reads ISO 8601 with Z, offsets, or no zone (UTC)", () => {
    expect(parseTimestamp("2019-07-23T12:28:10Z")).to.deep.equal({ ok: true, ms: ms("2019-07-23T12:28:10Z") });
    expect(parseTimestamp("2019-07-23T14:28:10+02:00")).to.deep.equal({ ok: true, ms: ms("2019-07-23T12:28:10Z") });
    expect(parseTimestamp("2019-07-23T12:28:10")).to.deep.equal({ ok: true, ms: ms("2019-07-23T12:28:10Z") });
    expect(parseTimestamp("2019-07-23")).to.deep.equal({ ok: true, ms: ms("2019-07-23T00:00:00Z") });
    expect(parseTimestamp("2019-07-23T12:28:10.250Z")).to.deep.equal({ ok: true, ms: ms("2019-07-23T12:28:10.250Z") });
  });

  it("reads CloudKitty's compact form and epoch seconds (number or digits)", () => {
    expect(parseTimestamp("20190723T122810Z")).to.deep.equal({ ok: true, ms: ms("2019-07-23T12:28:10Z") });
    expect(parseTimestamp(1239781290)).to.deep.equal({ ok: true, ms: 1239781290_000 });
    expect(parseTimestamp("1239781290")).to.deep.equal({ ok: true, ms: 1239781290_000 });
  });

  it("rejects impossible and out-of-range dates with a reason", () => {
    for (const bad of ["2019-02-30T00:00:00Z", "2019-13-01", "20191301T000000Z", "yesterday", "2019-07-23T25:00:00Z", "12345-01-01"]) {
      const r = parseTimestamp(bad);
      expect(r.ok, bad).to.equal(false);
    }
    expect(parseTimestamp(1e15)).to.deep.include({ ok: false });
    expect(parseTimestamp(-1)).to.deep.include({ ok: false });
    expect(parseTimestamp(Number.NaN)).to.deep.include({ ok: false });
  });

  it("stores milliseconds exactly and refuses what is finer, however the instant is written", () => {
    const at = ms("2019-07-23T12:28:10.123Z");
    for (const same of [
      "2019-07-23T12:28:10.123Z",
      "2019-07-23T12:28:10.123000000Z",
      "2019-07-23T14:28:10.1230+02:00",
      "1563884890.123",
      1563884890.123,
    ] as const) {
      expect(parseTimestamp(same), String(same)).to.deep.equal({ ok: true, ms: at });
    }
    expect(parseTimestamp("2019-07-23T12:28:10.1Z")).to.deep.equal({ ok: true, ms: at - 23 });
    for (const finer of ["2019-07-23T12:28:10.123456789Z", "2019-07-23T12:28:10.0001Z", "1563884890.1234", 1563884890.1234, 5e-7]) {
      const r = parseTimestamp(finer);
      expect(r.ok, String(finer)).to.equal(false);
      if (!r.ok) expect(r.reason, String(finer)).to.match(/finer than a millisecond/);
    }
  });

  it("writes CloudKitty's output form", () => {
    expect(formatTimestamp(ms("2019-07-23T12:00:00Z"))).to.equal("2019-07-23T12:00:00+00:00");
  });

  it("publishes patterns that admit only what it reads, the compact form included", () => {
    const compact = new RegExp(COMPACT_TIMESTAMP_PATTERN);
    const iso = new RegExp(TIMESTAMP_STRING_PATTERN);
    for (const ok of ["20261115T000000Z", "19700101T000000Z", "20240131T235959Z", "20241230T120000Z"]) {
      expect(compact.test(ok), ok).to.equal(true);
      expect(parseTimestamp(ok).ok, ok).to.equal(true);
    }
    for (const bad of ["20261315T000000Z", "20260231T000000Z", "20261115T240000Z", "2026-11-15T00:00:00Z", "20261115T000000"])
      expect(compact.test(bad), bad).to.equal(false);
    for (const ok of ["2026-11-15T00:00:00Z", "2024-12-31T23:59:59.250Z", "2024-04-30T00:00:00+00:00"]) {
      expect(iso.test(ok), ok).to.equal(true);
      expect(parseTimestamp(ok).ok, ok).to.equal(true);
    }
    for (const bad of ["2026-13-15T00:00:00Z", "2026-04-31T00:00:00Z", "20261115T000000Z"]) expect(iso.test(bad), bad).to.equal(false);
  });
});
