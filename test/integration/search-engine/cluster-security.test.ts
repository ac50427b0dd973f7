import { readFileSync } from "node:fs";
import { expect } from "chai";
import { loadConfig, type StorageConfig } from "../../../src/config.js";
import type { DataFrame } from "../../../src/storage/dataframe.js";
import { SearchEngineBackend } from "../../../src/storage/search-engine/backend.js";
import { startApi } from "../../support/api.js";
import { testLogger, testStorageConfig } from "../../support/cluster.js";
import { dec } from "../../support/data.js";
import { OwnNode } from "../../support/node.js";

/**
 * A secured cluster, as production runs one: OpenSearch 2.19.4 with the security plugin from Maven
 * Central (its demo configuration: HTTPS with a self-signed CA, basic auth) and the real ISM plugin, a
 * node of this suite's own. The service runs as a user holding only docs/security/ratestore-role.json,
 * created here through the security API, and trusts the cluster's CA through RATESTORE_CLUSTER_CA_FILE.
 */

const ISM_ZIP = process.env.RATESTORE_ISM_PLUGIN_ZIP;
const VERSION = "2.19.4";
const ADMIN_PASSWORD = "Kettle-Violet-Harbor-93%";
const USER_PASSWORD = "Copper-Meadow-Lantern-58#";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const frame = (begin: number, qty: number): DataFrame => ({
  begin,
  end: begin + HOUR,
  points: [{ type: "cpu", unit: "h", qty: dec(qty), price: dec(1), groupby: { project_id: "p" }, metadata: {} }],
});

/** The documented role, its index patterns moved from the default prefix to this test's. */
function roleFor(prefix: string, drop: readonly string[] = []): Record<string, unknown> {
  const role = JSON.parse(readFileSync("docs/security/ratestore-role.json", "utf8")) as {
    description: string;
    cluster_permissions: string[];
    index_permissions: { index_patterns: string[]; allowed_actions: string[] }[];
  };
  return {
    description: role.description,
    cluster_permissions: role.cluster_permissions.filter((p) => !drop.includes(p)),
    index_permissions: role.index_permissions.map((p) => ({
      index_patterns: p.index_patterns.map((i) => i.replace(/^ratestore-/, `${prefix}-`)),
      allowed_actions: p.allowed_actions.filter((a) => !drop.includes(a)),
    })),
  };
}

(ISM_ZIP ? describe : describe.skip)(
  `a secured cluster: TLS, basic auth, a least-privilege user [opensearch ${VERSION} secured, own node]`,
  function () {
    this.timeout(600_000);
    const node = new OwnNode(Number(process.env.RATESTORE_TEST_OS_PORT ?? 9250) + 80, [], {
      RATESTORE_ENGINE: "opensearch",
      RATESTORE_ENGINE_VERSION: VERSION,
      RATESTORE_ENGINE_HEAP: "512m",
      RATESTORE_ISM_PLUGIN_ZIP: ISM_ZIP ?? "",
      RATESTORE_OS_SECURITY: "demo",
      RATESTORE_OS_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    let ca = "";
    const prefix = `sec${Date.now().toString(36)}`;
    /** The storage configuration of the service as an operator sets it: the URL, the user, the CA file. */
    const secured = (env: Record<string, string> = {}): StorageConfig => {
      const c = loadConfig({
        RATESTORE_CLUSTER_URL: node.url,
        RATESTORE_CLUSTER_USERNAME: "ratestore",
        RATESTORE_CLUSTER_PASSWORD: USER_PASSWORD,
        RATESTORE_CLUSTER_CA_FILE: ca,
        ...env,
      }).storage;
      return testStorageConfig({ cluster: c.cluster, indexPrefix: prefix, retentionMechanism: "auto" });
    };
    let admin: SearchEngineBackend;

    /** Creates (or replaces) a role and a user holding only it, as an administrator does. */
    async function grant(user: string, role: Record<string, unknown>): Promise<void> {
      await admin.client.request({ method: "PUT", path: `/_plugins/_security/api/roles/${user}-role`, body: role });
      await admin.client.request({
        method: "PUT",
        path: `/_plugins/_security/api/internalusers/${user}`,
        body: { password: USER_PASSWORD, opendistro_security_roles: [`${user}-role`] },
      });
    }

    before(async () => {
      node.start();
      ca = node.caFile();
      admin = new SearchEngineBackend(
        secured({ RATESTORE_CLUSTER_USERNAME: "admin", RATESTORE_CLUSTER_PASSWORD: ADMIN_PASSWORD }),
        testLogger,
      );
      await admin.connect();
      await grant("ratestore", roleFor(prefix));
    });
    after(async () => {
      await admin?.close();
      node.stop();
    });

    it("runs as the least-privilege user over HTTPS with the cluster's CA: init, ISM policies, push, reads with PIT, delete, partitions, sweep", async () => {
      const today = Date.now() - (Date.now() % DAY);
      const api = await startApi({}, undefined, secured());
      try {
        expect(api.backend.profile).to.include({ version: VERSION, lifecycle: "ism", pit: "opensearch" });
        const push = await api.call("/v2/dataframes", {
          json: {
            dataframes: [0, 1, 2].map((h) => ({
              period: { begin: new Date(today + h * HOUR).toISOString(), end: new Date(today + (h + 1) * HOUR).toISOString() },
              usage: { cpu: [{ vol: { qty: "1.5", unit: "h" }, rating: { price: "2" }, groupby: { project_id: "p" }, metadata: {} }] },
            })),
          },
        });
        expect(push.status, await push.clone().text()).to.equal(204);
        const summary = await api.call(`/v2/summary?begin=${new Date(today).toISOString()}&end=${new Date(today + DAY).toISOString()}`);
        expect(summary.status, await summary.clone().text()).to.equal(200);
        const table = (await summary.json()) as { columns: string[]; results: unknown[][] };
        expect(table.results[0]![table.columns.indexOf("qty")]).to.equal(4.5);
        // paginate=false walks a point in time.
        const all = await api.call(
          `/v2/dataframes?begin=${new Date(today).toISOString()}&end=${new Date(today + DAY).toISOString()}&paginate=false`,
        );
        expect(all.status, await all.clone().text()).to.equal(200);
        // ISM's explain shows a partition as managed a moment after it was put under its policy.
        const own = `${prefix}-retention-${api.backend.partitions.indexFor(today).slice(`${prefix}-points-`.length)}`;
        let partitions = await api.backend.describePartitions();
        for (let i = 0; i < 50 && partitions[0]?.policy !== own; i++) {
          await new Promise((r) => setTimeout(r, 200));
          partitions = await api.backend.describePartitions();
        }
        expect(partitions.map((p) => p.policy)).to.deep.equal([own]);
        const del = await api.call(`/v2/dataframes?begin=${new Date(today).toISOString()}&end=${new Date(today + HOUR).toISOString()}`, {
          method: "DELETE",
        });
        expect(del.status, await del.clone().text()).to.be.oneOf([200, 204]);
      } finally {
        await api.stop();
      }
      // The sweeper's locks index and its deletes, for clusters where the sweeper runs.
      const sweeper = new SearchEngineBackend({ ...secured(), retentionMechanism: "sweeper" }, testLogger);
      try {
        await sweeper.init();
        expect((await sweeper.push([frame(today - 200 * DAY, 1)])).stored).to.equal(0);
        expect((await sweeper.sweepRetention()).leader).to.equal(true);
      } finally {
        await sweeper.close();
      }
    });

    it("a wrong password stops the start with a message naming the credentials to check", async () => {
      const b = new SearchEngineBackend(secured({ RATESTORE_CLUSTER_PASSWORD: "not-the-password" }), testLogger);
      const err = await b.init().then(
        () => undefined,
        (e: Error) => e,
      );
      await b.close();
      expect(err?.message).to.match(
        /refused the credentials \(401\).*user ratestore.*check RATESTORE_CLUSTER_USERNAME and RATESTORE_CLUSTER_PASSWORD/,
      );
    });

    it("an untrusted certificate stops the start with a message naming RATESTORE_CLUSTER_CA_FILE", async () => {
      const { cluster } = secured();
      const { ca: _trusted, ...untrusting } = cluster;
      const b = new SearchEngineBackend({ ...secured(), cluster: untrusting }, testLogger);
      const err = await b.init().then(
        () => undefined,
        (e: Error) => e,
      );
      await b.close();
      expect(err?.message).to.match(/certificate not trusted.*set RATESTORE_CLUSTER_CA_FILE/);
    });

    it("a missing permission stops the start, or the push, with a message naming the permission", async () => {
      await grant("ratestore-noexplain", roleFor(prefix, ["cluster:admin/opendistro/ism/managedindex/explain"]));
      const b = new SearchEngineBackend(secured({ RATESTORE_CLUSTER_USERNAME: "ratestore-noexplain" }), testLogger);
      const err = await b.init().then(
        () => undefined,
        (e: Error) => e,
      );
      await b.close();
      expect(err?.message, err?.message).to.match(
        /user ratestore-noexplain lacks a permission \(403\).*cluster:admin\/opendistro\/ism\/managedindex\/explain.*docs\/security\.md/,
      );

      // Each in a month partition not created yet (two and three calendar months ahead, so that the two
      // never share a month whatever the date), so that the push has to create it.
      const now = new Date();
      const monthsAhead = (n: number) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + n, 15);
      for (const [user, missing, later] of [
        ["ratestore-nocreate", "indices:admin/create", monthsAhead(2)],
        ["ratestore-nopolicy", "cluster:admin/opendistro/ism/policy/write", monthsAhead(3)],
      ] as const) {
        await grant(user, roleFor(prefix, [missing]));
        const api = await startApi({}, undefined, { ...secured({ RATESTORE_CLUSTER_USERNAME: user }), indexPrefix: prefix });
        try {
          const res = await api.call("/v2/dataframes", {
            json: {
              dataframes: [
                {
                  period: { begin: new Date(later).toISOString(), end: new Date(later + HOUR).toISOString() },
                  usage: { cpu: [{ vol: { qty: "1", unit: "h" }, rating: { price: "1" }, groupby: { project_id: "p" }, metadata: {} }] },
                },
              ],
            },
          });
          const body = (await res.json().catch(() => ({ status: res.status }))) as {
            message: string;
            details: { message: string; outcome: string }[];
            stored: number;
          };
          expect(res.status, JSON.stringify(body)).to.equal(502);
          expect(body.message).to.include(`user ${user} lacks a permission (403)`).and.include(missing);
          expect(body.stored).to.equal(0);
          expect(body.details.map((d) => d.outcome)).to.deep.equal(["not_stored"]);
        } finally {
          await api.stop();
        }
      }
    });
  },
);
