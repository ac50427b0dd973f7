import { expect } from "chai";
import { ClusterClient } from "../../src/storage/search-engine/client.js";

describe("ClusterClient", () => {
  it("closes twice without hanging (the underlying client's close never settles a second time)", async () => {
    const client = new ClusterClient({ urls: ["http://127.0.0.1:9"], tlsVerify: true, requestTimeoutMs: 1000, profile: {} });
    await client.close();
    const hung = new Promise<string>((r) => setTimeout(() => r("still waiting after 3 s"), 3000).unref());
    expect(await Promise.race([client.close().then(() => "closed"), hung])).to.equal("closed");
  });
});
