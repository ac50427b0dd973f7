import { expect } from "chai";
import { ClusterClient } from "../../../src/storage/search-engine/client.js";
import { inPit, pitRequests } from "../../../src/storage/search-engine/pit.js";
import { detectProfile } from "../../../src/storage/search-engine/profile-detection.js";
import type { ClusterProfile } from "../../../src/storage/search-engine/cluster-profile.js";
import { BackendError, BackendUnavailableError } from "../../../src/errors.js";
import { clusterUrl, forEachEngine } from "../../support/engines.js";

forEachEngine("the real node, and the profile detected from it", () => {
  let client: ClusterClient;
  // Detected once, as the service does at start; every test checks one of its claims against the node.
  let profile: ClusterProfile;
  let clusterName: string | undefined;
  const index = `t-smoke-${Date.now()}`;

  before(async () => {
    client = new ClusterClient({
      urls: clusterUrl().split(","),
      tlsVerify: true,
      requestTimeoutMs: 10_000,
      profile: {},
    });
    ({ profile, clusterName } = await detectProfile(client));
  });

  after(async () => {
    await client.request({ method: "DELETE", path: `/${index}` }, [404]);
    await client.close();
  });

  it("is identified, by GET / or, where that is missing (Elasticsearch 8's test zip), by the nodes API", async () => {
    expect(clusterName).to.be.a("string").with.length.greaterThan(0);
    expect(profile.version).to.match(/^\d+\.\d+\.\d+/);
    const root = await client.request({ method: "GET", path: "/" }, [405]);
    expect(profile.identifiedBy).to.equal(root.status === 200 ? "root" : "nodes");
  });

  it("offers the point-in-time flavour the profile names: a view opened on it is used and closed", async () => {
    await client.request({ method: "PUT", path: `/${index}-pit`, body: { settings: { number_of_replicas: 0 } } });
    try {
      const pit = pitRequests(profile);
      if (!pit) {
        expect(profile.pit).to.equal("none");
        return;
      }
      const opened = await client.request(pit.open(`${index}-pit`));
      const id = pit.idOf(opened.body);
      expect(id, `a ${profile.pit} point-in-time id`).to.be.a("string");
      const res = await client.request<{ hits: { hits: unknown[] } }>({
        method: "POST",
        path: "/_search",
        body: { size: 1, sort: [{ _doc: "asc" }], ...inPit(id!) },
      });
      expect(res.body.hits.hits).to.deep.equal([]);
      expect((await client.request(pit.close(id!))).status).to.equal(200);
    } finally {
      await client.request({ method: "DELETE", path: `/${index}-pit` }, [404]);
    }
  });

  it("accepts index.creation_date at creation exactly where the profile says it backdates with it", async () => {
    const res = await client.request(
      {
        method: "PUT",
        path: `/${index}-dated`,
        body: { settings: { number_of_replicas: 0, "index.creation_date": Date.UTC(2024, 0, 1) } },
      },
      [400],
    );
    await client.request({ method: "DELETE", path: `/${index}-dated` }, [404]);
    expect(res.status === 200).to.equal(profile.backdating === "creation_date");
  });

  it("creates, writes, reads and deletes an index", async () => {
    await client.request({ method: "PUT", path: `/${index}`, body: { settings: { number_of_replicas: 0 } } });
    await client.request({ method: "PUT", path: `/${index}/_doc/1`, querystring: { refresh: true }, body: { hello: "world" } });
    const got = await client.request<{ _source: { hello: string } }>({ method: "GET", path: `/${index}/_doc/1` });
    expect(got.body._source.hello).to.equal("world");
    const found = await client.request<{ hits: { total: { value: number } } }>({
      method: "POST",
      path: `/${index}/_search`,
      body: { query: { term: { hello: "world" } } },
    });
    expect(found.body.hits.total.value).to.equal(1);
    await client.request({ method: "DELETE", path: `/${index}` });
    const gone = await client.request({ method: "GET", path: `/${index}` }, [404]);
    expect(gone.status).to.equal(404);
  });

  it("maps a rejected request to BackendError with the cluster's reason", async () => {
    try {
      await client.request({ method: "POST", path: "/_search", body: { query: { no_such_query: {} } } });
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(BackendError);
      expect((err as BackendError).status).to.equal(400);
      expect((err as Error).message).to.match(/no_such_query|unknown query/i);
    }
  });

  it("maps an unreachable cluster to BackendUnavailableError", async () => {
    const dead = new ClusterClient({ urls: ["http://127.0.0.1:1"], tlsVerify: true, requestTimeoutMs: 1000, profile: {} });
    try {
      await dead.request({ method: "GET", path: "/" });
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).to.be.instanceOf(BackendUnavailableError);
    } finally {
      await dead.close();
    }
  });
});
