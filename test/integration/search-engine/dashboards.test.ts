import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { fieldsUsed, importSavedObjects, loadSavedObjects, type SavedObject } from "../../../src/cli/dashboards.js";
import { freshBackend } from "../../support/cluster.js";
import type { DataFrame } from "../../../src/storage/dataframe.js";
import { total } from "../../../src/storage/reads.js";
import { dec, scenarioFrames, T0 } from "../../support/data.js";
import { forEachEngine } from "../../support/engines.js";

const EXPECTED_TYPE: Record<string, string> = {
  "@timestamp": "date",
  type: "keyword",
  unit: "keyword",
  price: "double",
  qty: "double",
  "groupby.project_id": "keyword",
};

/**
 * The query Dashboards' DQL and Kibana's KQL send for `field:"value"`: a `match_phrase` in a `bool` (for a
 * field the index pattern does not list, such as a key under a flat_object, the name is sent as it is).
 */
function kqlFieldIsValue(query: string): Record<string, unknown> {
  const m = /^([\w.@-]+):"([^"]*)"$/.exec(query);
  if (!m) throw new Error(`not a field:"value" query: ${query}`);
  return { bool: { should: [{ match_phrase: { [m[1]!]: m[2]! } }], minimum_should_match: 1 } };
}

/** A visualization's or saved search's search source: the index it reads and the query it sends. */
interface SearchSource {
  indexRefName: string;
  query: { query: string; language: string };
}

function searchSourceOf(object: SavedObject): SearchSource {
  return JSON.parse(String((object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON)) as SearchSource;
}

forEachEngine("Dashboards saved objects", () => {
  it("parse, and every reference resolves to an object of the file with the right type", () => {
    const objects = loadSavedObjects();
    const byId = new Map(objects.map((o) => [`${o.type}:${o.id}`, o]));
    expect(objects.map((o) => o.type)).to.deep.equal([
      "index-pattern",
      "visualization",
      "visualization",
      "visualization",
      "search",
      "search",
      "dashboard",
    ]);
    for (const o of objects) {
      for (const ref of o.references) expect(byId.has(`${ref.type}:${ref.id}`), `${o.id} -> ${ref.type}:${ref.id}`).to.equal(true);
      if (o.type === "visualization") JSON.parse(String(o.attributes.visState));
      if (o.type === "visualization" || o.type === "search") {
        expect(o.references.map((r) => r.name)).to.include(searchSourceOf(o).indexRefName);
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

  it("filter metadata by key where the engine has a bounded type for it, by key=value term everywhere, and the mapping does not grow with the keys", async () => {
    const backend = await freshBackend();
    try {
      const flavours = ["m1.small", "m1.small", "m1.large", "m1.small.big"];
      const point = (flavor_name: string, extra: Record<string, string> = {}) => ({
        type: "instance",
        unit: "instance",
        qty: dec("1"),
        price: dec("0.5"),
        groupby: { project_id: "p1" },
        metadata: { flavor_name, vcpus: 2, ...extra },
      });
      await backend.push([{ begin: T0, end: T0 + 3_600_000, points: flavours.map((f) => point(f)) }], { refresh: true });
      const mappingOf = async () =>
        (
          await backend.client.request<Record<string, { mappings: { properties: { metadata: unknown } } }>>({
            method: "GET",
            path: `/${backend.partitions.pattern}/_mapping`,
          })
        ).body;
      const before = await mappingOf();
      // 300 metadata keys no point had before, 100 per point: a dynamic object would add 300 fields.
      const wide: DataFrame = {
        begin: T0,
        end: T0 + 3_600_000,
        points: [0, 1, 2].map((p) =>
          point("m1.tiny", Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`key_${p}_${k}`, `value ${k}`]))),
        ),
      };
      await backend.push([wide], { refresh: true });
      const after = await mappingOf();
      expect(JSON.stringify(after), "the mapping after 300 new metadata keys").to.equal(JSON.stringify(before));
      const metadataMapping = Object.values(after).map((m) => m.mappings.properties.metadata);
      const mapping = backend.profile.metadataMapping;
      expect(metadataMapping).to.deep.equal([mapping === "none" ? { type: "object", enabled: false } : { type: mapping }]);

      const countOf = async (query: Record<string, unknown>) =>
        (
          await backend.client.request<{ count: number }>({
            method: "POST",
            path: `/${backend.partitions.pattern}/_count`,
            body: { query },
          })
        ).body.count;
      // Each saved search's query as Dashboards and Kibana send it (no Dashboards runs here).
      const countOfSearch = (search: string) =>
        countOf(kqlFieldIsValue(searchSourceOf(loadSavedObjects().find((o) => o.id === search)!).query.query));
      expect(await countOfSearch("ratestore-points-by-metadata-kv"), "by metadata_kv").to.equal(2);
      expect(await countOfSearch("ratestore-points-by-metadata-key"), `by metadata key (${mapping})`).to.equal(mapping === "none" ? 0 : 2);
      if (mapping !== "none") {
        // Lucene syntax, a number kept as a number, a key only the wide points have, and presence.
        expect(await countOf({ query_string: { query: "metadata.flavor_name:m1.large" } })).to.equal(1);
        expect(await countOf({ term: { "metadata.vcpus": "2" } })).to.equal(7);
        expect(await countOf({ term: { "metadata.key_1_99": "value 99" } })).to.equal(1);
        expect(await countOf({ exists: { field: "metadata.key_2_0" } })).to.equal(1);
      }
      // ratestore's own filters read metadata_kv, whatever the mapping.
      const rows = await total(backend, { begin: T0, end: T0 + 3_600_000, filters: { flavor_name: "m1.small" } });
      expect(rows.results.map((r) => r.qty.toString())).to.deep.equal([dec("2").toString()]);
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
