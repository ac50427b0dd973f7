import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errors } from "@opensearch-project/opensearch";
import { expect } from "chai";
import winston from "winston";
import { loadConfig, RETENTION_MECHANISM_NAMES } from "../../src/config.js";
import { BackendError, BackendUnavailableError, ConfigError } from "../../src/errors.js";
import type { ClusterProfile } from "../../src/storage/search-engine/cluster-profile.js";
import { ClusterClient, translateError } from "../../src/storage/search-engine/client.js";
import { Partitions } from "../../src/storage/search-engine/partitions.js";
import { IsmRetention } from "../../src/storage/search-engine/retention/ism-retention.js";
import { timeValue, timeValueMs } from "../../src/storage/search-engine/retention/retention-mechanism.js";
import { chooseRetention } from "../../src/storage/search-engine/retention/retention-mechanisms.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const profile = (lifecycle: ClusterProfile["lifecycle"], backdating: ClusterProfile["backdating"] = "none"): ClusterProfile => ({
  distribution: "opensearch",
  version: "2.19.4",
  pit: "opensearch",
  storageOrder: "none",
  hourCounts: "doc_values",
  docValueQueries: "keyword",
  metadataMapping: "flat_object",
  lifecycle,
  backdating,
  identifiedBy: "root",
  overridden: [],
});

describe("retention mechanisms", () => {
  it("are chosen in one place: auto takes the cluster's own engine, else the sweeper; a named one the cluster lacks stops the start", () => {
    expect(chooseRetention("auto", profile("ism"))).to.equal("ism");
    expect(chooseRetention("auto", profile("ilm"))).to.equal("ilm");
    expect(chooseRetention("auto", profile("none"))).to.equal("sweeper");
    expect(chooseRetention("sweeper", profile("ism"))).to.equal("sweeper");
    expect(chooseRetention("none", profile("ilm"))).to.equal("none");
    expect(() => chooseRetention("ilm", profile("ism"))).to.throw(
      ConfigError,
      /RATESTORE_RETENTION_MECHANISM=ilm but this cluster's lifecycle engine is ism/,
    );
    // The configuration takes exactly the mechanisms' names, and auto.
    for (const name of RETENTION_MECHANISM_NAMES)
      expect(loadConfig({ RATESTORE_RETENTION_MECHANISM: name }).storage.retentionMechanism).to.equal(name);
    expect(() => loadConfig({ RATESTORE_RETENTION_MECHANISM: "ism+sweeper" })).to.throw(/RATESTORE_RETENTION_MECHANISM/);
  });

  it("write durations as whole hours where they are, else seconds rounded up, and read them back", () => {
    expect(timeValue(2400 * HOUR)).to.equal("2400h");
    expect(timeValue(90_500)).to.equal("91s");
    expect(timeValue(-5)).to.equal("0h");
    for (const ms of [HOUR, 2400 * HOUR, 91_000, 10_887_000_000]) expect(timeValueMs(timeValue(ms))).to.equal(ms);
    expect(timeValueMs("3m")).to.equal(180_000);
    expect(timeValueMs("2d")).to.equal(2 * DAY);
    expect(timeValueMs("3024h")).to.equal(3024 * HOUR);
    expect(timeValueMs("soon")).to.equal(undefined);
  });

  describe("ISM ages", () => {
    const partitions = new Partitions("rs", "day");
    const ctx = (backdating: ClusterProfile["backdating"]) => ({
      client: new ClusterClient(loadConfig({}).storage.cluster),
      partitions,
      profile: profile("ism", backdating),
      retentionMs: 48 * HOUR,
      graceMs: 600_000,
      policyId: "rs-retention",
      logger: winston.createLogger({ silent: true }),
    });
    const range = { start: Date.UTC(2026, 0, 10), end: Date.UTC(2026, 0, 11) };

    it("where partitions are dated by their period's end, one policy with the retention as its age", () => {
      const ism = new IsmRetention(ctx("creation_date"));
      expect(ism.policyOf("rs-points-2026.01.10")).to.equal("rs-retention");
      expect(ism.agesOf({ range, createdAt: range.start + 3 * HOUR })).to.deep.equal({
        detachMs: 48 * HOUR,
        deleteMs: 48 * HOUR + 600_000,
      });
    });

    it("elsewhere a policy per partition, aged from its recorded creation to its period's end + retention: never early, wherever it was created", () => {
      const ism = new IsmRetention(ctx("none"));
      expect(ism.policyOf("rs-points-2026.01.10")).to.equal("rs-retention-2026.01.10");
      // Created at its period's start, in its middle, long after (backfill), and before it (a future period).
      for (const createdAt of [range.start, range.start + 7 * HOUR, range.end + 47 * HOUR, range.start - 5 * DAY]) {
        const { detachMs, deleteMs } = ism.agesOf({ range, createdAt });
        expect(createdAt + detachMs, new Date(createdAt).toISOString()).to.equal(range.end + 48 * HOUR);
        expect(deleteMs - detachMs).to.equal(600_000);
      }
      // Past its expiry already (written while retention was off): due at once, never a negative age.
      expect(ism.agesOf({ range, createdAt: range.end + 60 * DAY }).detachMs).to.equal(0);
    });
  });
});

describe("cluster errors name the cause and the setting to check", () => {
  const response = (statusCode: number, body: unknown) =>
    new errors.ResponseError({ body, statusCode, headers: {}, warnings: null, meta: {} as never } as never);

  it("refused credentials", () => {
    const err = translateError(response(401, "Unauthorized"), "GET /_nodes/_local", "ratestore");
    expect(err).to.be.instanceOf(BackendError);
    expect(err.message).to.equal(
      "cluster refused the credentials (401) on GET /_nodes/_local: sent the user ratestore and its password; check RATESTORE_CLUSTER_USERNAME and RATESTORE_CLUSTER_PASSWORD",
    );
    expect(translateError(response(401, "Unauthorized"), "GET /").message).to.include("sent no credentials");
  });

  it("a missing permission, named by the cluster", () => {
    const reason = "no permissions for [indices:admin/create] and User [name=ratestore, backend_roles=[], requestedTenant=null]";
    const err = translateError(
      response(403, { error: { type: "security_exception", reason }, status: 403 }),
      "PUT /rs-points-2026.01",
      "ratestore",
    );
    expect(err.message).to.match(
      /^cluster user ratestore lacks a permission \(403\) on PUT \/rs-points-2026\.01: security_exception: no permissions for \[indices:admin\/create\].*docs\/security\.md/,
    );
    // A 403 that is not the security plugin's (a read-only block) keeps the plain form.
    expect(translateError(response(403, { error: { type: "cluster_block_exception", reason: "blocked" } }), "PUT /x").message).to.equal(
      "cluster rejected PUT /x (403): cluster_block_exception: blocked",
    );
  });

  it("an untrusted certificate, which is not waited for as an unreachable cluster is", () => {
    const err = translateError(new errors.ConnectionError("unable to verify the first certificate"), "GET /_nodes/_local");
    expect(err).to.be.instanceOf(BackendError).and.not.instanceOf(BackendUnavailableError);
    expect(err.message).to.match(
      /^cluster certificate not trusted on GET \/_nodes\/_local: unable to verify the first certificate; set RATESTORE_CLUSTER_CA_FILE/,
    );
    expect(translateError(new errors.ConnectionError("connect ECONNREFUSED 127.0.0.1:9200"), "GET /")).to.be.instanceOf(
      BackendUnavailableError,
    );
  });

  it("a CA file that cannot be read, or holds no certificate, stops the start naming RATESTORE_CLUSTER_CA_FILE", () => {
    const dir = mkdtempSync(join(tmpdir(), "ratestore-ca-"));
    expect(() => loadConfig({ RATESTORE_CLUSTER_CA_FILE: join(dir, "missing.pem") })).to.throw(
      ConfigError,
      /RATESTORE_CLUSTER_CA_FILE .*missing\.pem: ENOENT/,
    );
    writeFileSync(join(dir, "empty.pem"), "not a certificate\n");
    expect(() => loadConfig({ RATESTORE_CLUSTER_CA_FILE: join(dir, "empty.pem") })).to.throw(ConfigError, /holds no PEM certificate/);
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    expect(loadConfig({ RATESTORE_CLUSTER_CA_FILE: join(dir, "ca.pem") }).storage.cluster.ca).to.include("BEGIN CERTIFICATE");
  });
});
