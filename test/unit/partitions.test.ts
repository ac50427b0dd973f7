import { expect } from "chai";
import { Partitions } from "../../src/storage/search-engine/partitions.js";
import { planGroups } from "../../src/storage/search-engine/aggregations.js";
import {
  contentKey,
  documentJson,
  fromDocument,
  fromHit,
  periodTexts,
  pointId,
  type PointDocument,
} from "../../src/storage/search-engine/documents.js";
import { ValidationError } from "../../src/errors.js";

describe("partitions", () => {
  const at = Date.parse("2019-07-23T12:00:00Z");
  it("puts a period in the partition of its last instant, so that no point ends after its partition", () => {
    const day = new Partitions("rs", "day");
    const hour = 3_600_000;
    const midnight = Date.parse("2019-07-24T00:00:00Z");
    // An aligned hour, the last of the day: where its begin is.
    expect(day.partitionOf({ begin: midnight - hour, end: midnight })).to.equal("rs-points-2019.07.23");
    // A 2-day period: where it ends.
    expect(day.partitionOf({ begin: midnight - hour, end: midnight + 2 * 86_400_000 - hour })).to.equal("rs-points-2019.07.25");
    for (const [begin, end] of [
      [at, at + hour],
      [midnight - 1, midnight + 1],
      [at, at + 40 * 86_400_000],
    ] as const) {
      const range = day.rangeOf(day.partitionOf({ begin, end }))!;
      expect(range.end, `${begin}-${end}`).to.be.at.least(end);
    }
  });

  it("names partitions by an instant and reads their range back", () => {
    expect(new Partitions("rs", "month").indexFor(at)).to.equal("rs-points-2019.07");
    expect(new Partitions("rs", "day").indexFor(at)).to.equal("rs-points-2019.07.23");
    expect(new Partitions("rs", "year").indexFor(at)).to.equal("rs-points-2019");
    expect(new Partitions("rs", "month").rangeOf("rs-points-2019.12")).to.deep.equal({
      start: Date.parse("2019-12-01T00:00:00Z"),
      end: Date.parse("2020-01-01T00:00:00Z"),
    });
    expect(new Partitions("rs", "month").rangeOf("other-2019.12")).to.equal(undefined);
  });

  it("lists the partitions a window's points can start in, which reads refresh before they search", () => {
    const months = new Partitions("rs", "month");
    const nov = Date.parse("2019-11-15T00:00:00Z");
    const feb = Date.parse("2020-02-01T00:00:00Z");
    expect(months.indicesBetween(nov, feb, 16)).to.deep.equal(["rs-points-2019.11", "rs-points-2019.12", "rs-points-2020.01"]);
    // A point starting exactly at `end` is outside the window, and so is its partition.
    expect(months.indicesBetween(nov, feb + 1, 16)).to.deep.equal([
      "rs-points-2019.11",
      "rs-points-2019.12",
      "rs-points-2020.01",
      "rs-points-2020.02",
    ]);
    expect(months.indicesBetween(feb, feb, 16)).to.deep.equal([]);
    expect(months.indicesBetween(nov, feb, 3)).to.have.length(3);
    expect(months.indicesBetween(nov, feb, 2)).to.equal(undefined);
    expect(new Partitions("rs", "day").indicesBetween(nov, feb, 16)).to.equal(undefined);
    expect(new Partitions("rs", "year").indicesBetween(nov, feb, 16)).to.deep.equal(["rs-points-2019", "rs-points-2020"]);
  });
});

describe("groupby plan", () => {
  it("maps keys, type and time options to composite sources", () => {
    const plan = planGroups(["project_id", "type", "time-m"]);
    expect(plan.labels.map((l) => l.name)).to.deep.equal(["project_id", "type"]);
    expect(plan.time).to.equal("time-m");
    expect(plan.sources).to.have.length(3);
  });
  it("rejects an unknown time option and two time options", () => {
    expect(() => planGroups(["time-x"])).to.throw(ValidationError, /unknown time option/);
    expect(() => planGroups(["time", "time-d"])).to.throw(ValidationError, /only one time grouping/);
    expect(() => planGroups(["a.b"])).to.throw(ValidationError);
  });
});

const GOLDEN_ID = "NeQLl5rhFb-9hHGq8a-48nIwwPF";

describe("point ids", () => {
  const p = { type: "cpu", unit: "h", qty: 1n, price: 2n, groupby: { b: "2", a: "1" }, metadata: {} };
  it("do not depend on label order, and tell identical points apart by ordinal", () => {
    const k1 = contentKey(1, 2, p);
    const k2 = contentKey(1, 2, { ...p, groupby: { a: "1", b: "2" } });
    expect(k1).to.equal(k2);
    expect(pointId(k1, 0)).to.equal(pointId(k2, 0));
    expect(pointId(k1, 0)).to.not.equal(pointId(k1, 1));
    expect(pointId(contentKey(1, 2, { ...p, price: 3n }), 0)).to.not.equal(pointId(k1, 0));
  });

  it("are frozen: a known point keeps its id across releases (a change would store retries twice)", () => {
    const known = {
      type: "image.size",
      unit: "MiB",
      qty: 1_500_000_000n,
      price: 100_000_000n,
      groupby: { project_id: "p1", id: "r1" },
      metadata: { year: 2022, flavor: "m1" },
    };
    expect(contentKey(Date.parse("2019-07-23T12:00:00Z"), Date.parse("2019-07-23T13:00:00Z"), known)).to.equal(
      '1563883200000|1563886800000|"image.size"|"MiB"|1.5|0.1|{"id":"r1","project_id":"p1"}|{"flavor":"m1","year":2022}',
    );
    expect(pointId(contentKey(Date.parse("2019-07-23T12:00:00Z"), Date.parse("2019-07-23T13:00:00Z"), known), 0)).to.equal(GOLDEN_ID);
  });

  it("documents are JSON with CloudKitty's field names and the limbs that are not zero", () => {
    const at = Date.parse("2019-07-23T12:00:00Z");
    const doc = JSON.parse(
      documentJson(
        periodTexts({ begin: at, end: at + 3600_000 }),
        { ...p, qty: -1_500_000_000n, price: 100_000_001n, metadata: { 'q"uote': "a\nb" } },
        "ID",
      ),
    ) as PointDocument;
    expect(doc).to.deep.equal({
      "@timestamp": "2019-07-23T12:00:00.000Z",
      start: "2019-07-23T12:00:00.000Z",
      end: "2019-07-23T13:00:00.000Z",
      type: "cpu",
      unit: "h",
      qty: -1.5,
      price: 0.100000001,
      qty_e6: -1_500,
      price_e0: 1,
      price_e6: 100,
      point_id: "ID",
      groupby: { a: "1", b: "2" },
      metadata: { 'q"uote': "a\nb" },
      metadata_kv: ['q"uote=a\nb'],
    });
    expect(fromDocument(doc).point).to.include({ qty: -1_500_000_000n, price: 100_000_001n });
  });

  it("reads amounts from limbs, from the whole and nano parts of template versions before 5, and from CloudKitty's doubles", () => {
    const at = "2019-07-23T12:00:00.000Z";
    const base = { start: at, end: "2019-07-23T13:00:00.000Z", type: "cpu", unit: "h", groupby: {}, metadata: {} };
    const big = { qty_e0: 999_999, qty_e6: 999_999, qty_e12: 999_999, qty_e18: 999_999, price_e18: -1 };
    expect(fromDocument({ ...base, qty: 1e15, price: -1e6, point_id: "ID", ...big }).point).to.include({
      qty: 10n ** 24n - 1n,
      price: -(10n ** 18n),
    });
    expect(fromDocument({ ...base, qty: 0, price: 0, point_id: "ID" }).point).to.include({ qty: 0n, price: 0n });
    const legacy = {
      ...base,
      qty: -1.5,
      price: 0.100000001,
      point_id: "ID",
      qty_units: -1,
      qty_nanos: -500_000_000,
      price_units: 0,
      price_nanos: 100_000_001,
    };
    expect(fromDocument(legacy).point).to.include({ qty: -1_500_000_000n, price: 100_000_001n });
    expect(fromDocument({ ...base, qty: 0.1, price: 2.5 }).point).to.include({ qty: 100_000_000n, price: 2_500_000_000n });
    expect(() => fromDocument({ ...base, qty: 1, price: 1, point_id: "ID", qty_e0: 0.5 })).to.throw(/limbs/);
  });

  it("reads a hit of template version 7 exactly: its limbs and point id from doc values, the rest from _source", () => {
    const base = {
      start: "2019-07-23T12:00:00.000Z",
      end: "2019-07-23T13:00:00.000Z",
      type: "cpu",
      unit: "h",
      groupby: { id: "r" },
      metadata: {},
    };
    // The double is rounded (1e24 - 1 has no double); the limbs are exact.
    const hit = {
      _source: { ...base, qty: 1e24, price: 0 },
      fields: { point_id: ["ID"], qty_e0: [999_999], qty_e6: [999_999], qty_e12: [999_999], qty_e18: [999_999] },
    };
    expect(fromHit(hit).point).to.include({ qty: 10n ** 24n - 1n, price: 0n });
    // Without the point id's doc value it is not a document of ours: CloudKitty's double is what it has.
    expect(fromHit({ _source: { ...base, qty: 0.1, price: 2.5 }, fields: {} }).point).to.include({
      qty: 100_000_000n,
      price: 2_500_000_000n,
    });
    // A hit of an earlier version, whose _source holds everything, reads as before.
    expect(fromHit({ _source: { ...base, qty: 1.5, price: 0, point_id: "ID", qty_e6: 1_500 } }).point).to.include({
      qty: 1_500_000_000n,
    });
  });
});

describe("backend registry", () => {
  it("creates the registered backend by name and names the known ones when asked for another", async () => {
    const { createBackend, registeredBackends } = await import("../../src/storage/backends.js");
    const { loadConfig } = await import("../../src/config.js");
    const { UnknownBackendError } = await import("../../src/errors.js");
    const { createLogger } = await import("../../src/logger.js");
    const storage = loadConfig({}).storage;
    expect(registeredBackends()).to.include.members(["search-engine", "opensearch"]);
    const backend = createBackend(storage, createLogger("error"));
    expect(backend.name).to.equal("search-engine");
    await backend.close();
    // The older name builds the same backend.
    const older = createBackend({ ...storage, backend: "opensearch" }, createLogger("error"));
    expect(older.name).to.equal("search-engine");
    await older.close();
    expect(() => createBackend({ ...storage, backend: "influxdb" }, createLogger("error"))).to.throw(
      UnknownBackendError,
      /registered: .*search-engine/,
    );
  });
});
