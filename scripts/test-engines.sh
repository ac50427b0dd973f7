#!/usr/bin/env bash
# Runs the storage, API and CLI integration suites once per engine, in the way kysely loops its tests
# over dialects: each engine gets its own node from scripts/engine-local.sh (fetched from Maven Central
# on first use), the same test files, and a line in the summary printed at the end.
#
#   scripts/test-engines.sh                      the CI matrix (RATESTORE_TEST_ENGINES below)
#   RATESTORE_TEST_ENGINES="elasticsearch:7.17.29" scripts/test-engines.sh
#
# The default engine (OpenSearch 3.6.0) runs every suite in `npm test`. The suites whose behaviour
# cannot differ by engine run there only: those that drive the Python clients (CloudKitty's driver,
# schemathesis), those of ratestore's own failure handling, where the engine only stores what the
# writer sends and the faults are injected the same way on any engine (a proxy's refusals and 429s, a
# node killed mid-push, a node of three killed under client-side failover), the CLI's ingestion (its
# rejects, checkpoints and resumption; what it stores is the storage library's push), and the API's
# input checks (answered before the storage is asked). Every suite that reads or writes in an
# engine's dialect (paging, point-in-time, summaries, rollups, retention, writes, CloudKitty's indices
# and readers, the API's answers) runs on every engine.
# Then the production-shaped suites, which start OpenSearch 2.19.4 nodes of their own (real ISM; the
# security plugin with TLS and a least-privilege user), run once, with a line of their own; they need
# the ISM plugin zip in RATESTORE_ISM_PLUGIN_ZIP (Maven Central has none) and say why they are skipped
# without it.
set -uo pipefail
cd "$(dirname "$0")/.."

ENGINES=${RATESTORE_TEST_ENGINES:-opensearch:2.19.6 elasticsearch:8.19.21 elasticsearch:7.10.2}
ENGINE_INDEPENDENT='cloudkitty-driver|api-schemathesis|storage-retries|push-faults|failover|cli-ingest|api-bad-input'
PRODUCTION_SHAPED=(test/integration/retention-ism.test.ts test/integration/cluster-security.test.ts)
mapfile -t SUITES < <(ls test/integration/*.test.ts | grep -Ev "$ENGINE_INDEPENDENT|retention-ism|cluster-security")
summary=()
status=0

# Runs suites with mocha on one engine and adds a summary line: run_suites <label> <engine> <version> <suite>...
run_suites() {
  local label=$1 engine=$2 version=$3 log started rc passing failing pending
  shift 3
  log=$(mktemp)
  started=$SECONDS
  echo "=== $label: $# suites"
  RATESTORE_ENGINE=$engine RATESTORE_ENGINE_VERSION=$version \
    npx mocha --no-config --node-option import=tsx --extension ts --require test/support/global-setup.ts \
    --timeout 60000 --exit --reporter spec "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  passing=$(grep -Eo '^ +[0-9]+ passing' "$log" | grep -Eo '[0-9]+' | tail -n1)
  failing=$(grep -Eo '^ +[0-9]+ failing' "$log" | grep -Eo '[0-9]+' | tail -n1)
  pending=$(grep -Eo '^ +[0-9]+ pending' "$log" | grep -Eo '[0-9]+' | tail -n1)
  summary+=("$label: ${passing:-0} passing, ${failing:-0} failing, ${pending:-0} pending, exit $rc, $((SECONDS - started)) s")
  [ "$rc" -eq 0 ] || status=1
  rm -f "$log"
}

for entry in $ENGINES; do
  run_suites "${entry%%:*} ${entry#*:} (pending: skipped where the engine lacks what they test)" "${entry%%:*}" "${entry#*:}" "${SUITES[@]}"
done
if [ -n "${RATESTORE_ISM_PLUGIN_ZIP:-}" ]; then
  run_suites "opensearch 2.19.4 with the real ISM plugin, and secured (TLS, basic auth, least-privilege user)" opensearch 3.6.0 "${PRODUCTION_SHAPED[@]}"
else
  summary+=("opensearch 2.19.4 with real ISM and security: skipped, RATESTORE_ISM_PLUGIN_ZIP is not set (Maven Central has no ISM plugin zip; ../shared/plugins/ holds one for 2.19.4)")
fi
echo
echo "=== engine matrix"
printf '%s\n' "${summary[@]}"
exit "$status"
