import { expect } from "chai";
import { ClusterClient } from "../../src/storage/opensearch/client.js";
import { BackendError, BackendUnavailableError } from "../../src/errors.js";

describe("the real OpenSearch node", () => {
  let client: ClusterClient;
  const index = `t-smoke-${Date.now()}`;

  before(() => {
    client = new ClusterClient({ urls: process.env.OPENSEARCH_URL!.split(","), tlsVerify: true, requestTimeoutMs: 10_000, profile: {} });
  });

  after(async () => {
    await client.request({ method: "DELETE", path: `/${index}` }, [404]);
    await client.close();
  });

  it("answers with its name and version", async () => {
    const res = await client.request<{ cluster_name: string; version: { number: string } }>({ method: "GET", path: "/" });
    expect(res.body.cluster_name).to.be.a("string").with.length.greaterThan(0);
    expect(res.body.version.number).to.match(/^\d+\.\d+\.\d+/);
  });

  it("creates, writes, reads and deletes an index", async () => {
    await client.request({ method: "PUT", path: `/${index}`, body: { settings: { number_of_replicas: 0 } } });
    await client.request({ method: "PUT", path: `/${index}/_doc/1`, querystring: { refresh: true }, body: { hello: "world" } });
    const got = await client.request<{ _source: { hello: string } }>({ method: "GET", path: `/${index}/_doc/1` });
    expect(got.body._source.hello).to.equal("world");
    const found = await client.request<{ hits: { total: { value: number } } }>({ method: "POST", path: `/${index}/_search`, body: { query: { term: { hello: "world" } } } });
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
