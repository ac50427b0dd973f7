import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { fieldsUsed, importSavedObjects, loadSavedObjects } from "../../../src/cli/dashboards.js";
import { freshBackend } from "../../support/cluster.js";
import { scenarioFrames } from "../../support/data.js";
import { forEachEngine } from "../../support/engines.js";

const EXPECTED_TYPE: Record<string, string> = {
  "@timestamp": "date",
  type: "keyword",
  unit: "keyword",
  price: "double",
  qty: "double",
  "groupby.project_id": "keyword",
};

forEachEngine("Dashboards saved objects", () => {
  it("parse, and every reference resolves to an object of the file with the right type", () => {
    const objects = loadSavedObjects();
    const byId = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));
    expect(objects.map((o) => o.type)).to.deep.equal(["index-pattern", "visualization", "visualization", "visualization", "dashboard"]);
    for (const o of objects) {
      for (const ref of o.references) expect(byId.has(`${ref.type}:${ref.id}`), `${o.id} -> ${ref.type}:${ref.id}`).to.equal(true);
      if (o.type === "visualization") {
        JSON.parse(String(o.attributes.visState));
        const source = JSON.parse(String((o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON)) as {
          indexRefName: string;
        };
        expect(o.references.map((r) => r.name)).to.include(source.indexRefName);
      }
      if (o.type === "dashboard") {
        const panels = JSON.parse(String(o.attributes.panelsJSON)) as { panelRefName: string }[];
        expect(panels.map((p) => p.panelRefName).sort()).to.deep.equal(o.references.map((r) => r.name).sort());
      }
    }
    expect(loadSavedObjects("billing")[0]!.attributes.title).to.equal("billing-points-*");
  });

  it("use only fields that the real node reports searchable and aggregatable, with the expected types", async () => {
    const backend = await freshBackend();
    try {
      await backend.push(scenarioFrames(1), { refresh: true });
      const fields = fieldsUsed(loadSavedObjects());
      expect(fields).to.deep.equal(Object.keys(EXPECTED_TYPE).sort());
      const caps = await backend.client.request<{ fields: Record<string, Record<string, { searchable: boolean; aggregatable: boolean }>> }>(
        {
          method: "GET",
          path: `/${backend.partitions.pattern}/_field_caps`,
          querystring: { fields: fields.join(",") },
        },
      );
      for (const f of fields) {
        const byType = caps.body.fields[f];
        expect(byType, f).to.not.equal(undefined);
        expect(Object.keys(byType!), f).to.deep.equal([EXPECTED_TYPE[f]]);
        expect(byType![EXPECTED_TYPE[f]!], f).to.include({ searchable: true, aggregatable: true });
      }
    } finally {
      await backend.drop();
    }
  });

  it("are sent to the saved-objects import API as multipart with the xsrf headers (checked on a local receiver; no Dashboards runs here)", async () => {
    let seen: { url?: string; headers: Record<string, unknown>; body: string } = { headers: {}, body: "" };
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen = { url: req.url, headers: req.headers, body };
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ success: true, successCount: 5 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const result = await importSavedObjects(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, loadSavedObjects(), {
        username: "u",
        password: "p",
      });
      expect(result).to.deep.equal({ success: true, successCount: 5 });
      expect(seen.url).to.equal("/api/saved_objects/_import?overwrite=true");
      expect(seen.headers).to.include({
        "osd-xsrf": "true",
        "kbn-xsrf": "true",
        authorization: `Basic ${Buffer.from("u:p").toString("base64")}`,
      });
      expect(String(seen.headers["content-type"])).to.match(/^multipart\/form-data; boundary=/);
      expect(seen.body).to.include('filename="ratestore.ndjson"');
      expect(seen.body).to.include('"id":"ratestore-overview"');
    } finally {
      server.close();
    }
  });
});
