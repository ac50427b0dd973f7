import { expect } from "chai";
import { readCloudKittyDocument } from "../../src/cli/cloudkitty-documents.js";

const doc = {
  start: "2024-03-01T00:00:00+00:00",
  end: "2024-03-01T01:00:00+00:00",
  type: "cpu",
  unit: "instance",
  qty: 1.123456789,
  price: 1e-9,
  groupby: { project_id: "p1" },
  metadata: { flavor: "m1" },
};

describe("CloudKitty documents read by ratestore migrate", () => {
  it("reads a point exactly from the literals CloudKitty wrote (Python's 1e-09 included), keeping its source identity", () => {
    const r = readCloudKittyDocument(doc, "cloudkitty/abc");
    if (r.kind !== "point") throw new Error(`not a point: ${JSON.stringify(r)}`);
    const p = r.frame;
    expect(p.begin).to.equal(Date.parse("2024-03-01T00:00:00Z"));
    expect(p.points[0]).to.include({ qty: 1_123_456_789n, price: 1n, origin: "cloudkitty/abc" });
  });

  it("skips CloudKitty's own mapping document, which its OpenSearch backend stores as a document", () => {
    expect(readCloudKittyDocument({ dynamic_templates: [], dynamic: false, properties: { start: { type: "date" } } }, "x/1")).to.deep.equal(
      { kind: "mapping" },
    );
  });

  it("refuses, naming the CloudKitty field, what a push would refuse: never rounded, never dropped", () => {
    expect(readCloudKittyDocument({ ...doc, qty: 0.1234567891 }, "x/1")).to.deep.include({ kind: "unreadable" });
    expect((readCloudKittyDocument({ ...doc, qty: 0.1234567891 }, "x/1") as { reason: string }).reason).to.match(
      /^qty: has more than 9 decimal places/,
    );
    expect((readCloudKittyDocument({ ...doc, end: "2024-02-01T00:00:00Z" }, "x/1") as { reason: string }).reason).to.match(
      /^end: must be after/,
    );
    expect((readCloudKittyDocument({ ...doc, type: 5 }, "x/1") as { reason: string }).reason).to.equal("type: missing or not a string");
    expect((readCloudKittyDocument({ ...doc, groupby: { __proto__x: 1, ["__proto__"]: 2 } }, "x/1") as { kind: string }).kind).to.equal(
      "unreadable",
    );
    expect(readCloudKittyDocument("text", "x/1")).to.deep.equal({ kind: "unreadable", reason: "_source is not an object" });
  });
});
