import { readFileSync } from "node:fs";
import { expect } from "chai";
import { parse } from "yaml";
import { ConfigSchema, loadConfig } from "../../src/config.js";

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

/** docker compose cannot run here: check that the file says what the service expects. */
describe("docker-compose.yml", () => {
  const compose = parse(readFileSync("docker-compose.yml", "utf8")) as { services: Record<string, Service> };
  const s = compose.services;
  const provisioned = /opensearch\) DEFAULT_VERSION=([0-9.]+) ;;/.exec(readFileSync("scripts/engine-local.sh", "utf8"))![1];

  it("runs OpenSearch, Dashboards, the service and the saved-objects import, with health checks", () => {
    expect(Object.keys(s).sort()).to.deep.equal(["dashboards-import", "opensearch", "opensearch-dashboards", "ratestore"]);
    for (const name of ["opensearch", "opensearch-dashboards", "ratestore"])
      expect(s[name]!.healthcheck?.test.join(" "), name).to.match(/curl|fetch\(/);
  });

  it("uses the OpenSearch version the project tests against, for server and Dashboards alike", () => {
    expect(s.opensearch!.image).to.equal(`opensearchproject/opensearch:${provisioned}`);
    expect(s["opensearch-dashboards"]!.image).to.equal(`opensearchproject/opensearch-dashboards:${provisioned}`);
  });

  it("gives the service only variables it knows, and a configuration that loads", () => {
    const env = s.ratestore!.environment!;
    const known = new Set(Object.keys(ConfigSchema.shape));
    for (const k of Object.keys(env)) expect(known.has(k), k).to.equal(true);
    // Secrets have no default: compose refuses to start without them (`${NAME:?reason}`).
    expect(env.RATESTORE_API_KEYS).to.match(/\$\{RATESTORE_ADMIN_KEY:\?[^}]+\}/);
    expect(env.RATESTORE_CURSOR_SECRET).to.match(/^\$\{RATESTORE_CURSOR_SECRET:\?[^}]+\}$/);
    const given = (name: string) => `${name.toLowerCase().replace(/_/g, "-")}-0123456789abcdef`;
    const resolved = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (_m, name: string) => given(name))]),
    );
    const config = loadConfig(resolved);
    expect(config.api.auth).to.equal("keys");
    expect(config.storage.cluster.urls).to.deep.equal(["http://opensearch:9200"]);
    expect(s.ratestore!.ports).to.deep.equal([`127.0.0.1:${config.port}:${config.port}`]);
    expect(s.ratestore!.healthcheck!.test.join(" ")).to.include(`localhost:${config.port}/readyz`);
    expect(s.ratestore!.depends_on).to.deep.equal({ opensearch: { condition: "service_healthy" } });
  });

  it("imports the saved objects into Dashboards once it is healthy, with the service's index prefix", () => {
    const job = s["dashboards-import"]!;
    expect(job.command).to.deep.equal(["node", "dist/cli/main.js", "dashboards", "import", "--url", "http://opensearch-dashboards:5601"]);
    expect(job.depends_on!["opensearch-dashboards"]).to.deep.equal({ condition: "service_healthy" });
    expect(job.environment!.RATESTORE_INDEX_PREFIX).to.equal(s.ratestore!.environment!.RATESTORE_INDEX_PREFIX);
    const dockerfile = readFileSync("Dockerfile", "utf8");
    for (const dir of ["index-templates", "dashboards", "dist"]) expect(dockerfile).to.include(dir);
  });

  it("builds an image that listens beyond loopback, checks its health with Node alone, and a small context", () => {
    const dockerfile = readFileSync("Dockerfile", "utf8");
    expect(dockerfile).to.match(/^ENV .*\bHOST=0\.0\.0\.0\b/m);
    expect(dockerfile).to.match(/^HEALTHCHECK .*\n?.*fetch\(/m);
    expect(dockerfile).to.not.match(/apt-get install/);
    // Node.js 24, the LTS line, unless a build names another image (scripts/container-check.sh does).
    expect(dockerfile).to.match(/^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM .*/gm)).to.deep.equal(["FROM ${NODE_IMAGE} AS build", "FROM ${NODE_IMAGE}"]);
    const ignored = readFileSync(".dockerignore", "utf8").split("\n");
    for (const dir of ["node_modules", ".cache", ".git", "dist"]) expect(ignored, dir).to.include(dir);
  });
});
