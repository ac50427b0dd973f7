#!/usr/bin/env bash
# Runs the whole suite once over every engine of the matrix, in one mocha run, the way kysely loops its
# tests over dialects: each suite whose behaviour can differ by engine runs on each of them, tagged with
# the engine in its title (test/support/engines.ts). The global setup installs every engine first (fetched
# from Maven Central on first use) and gathers each engine's suites into one group, whose node runs while
# the group does, so that one shared node at a time competes with the tests for the cores. The reporter
# ends with a line per engine (counts and the group's time) and the slowest hooks.
#
#   scripts/test-engines.sh                                         the CI matrix (below)
#   RATESTORE_TEST_ENGINES="elasticsearch:7.17.29" scripts/test-engines.sh
#
# The suites that cannot differ by engine run on the first engine only (`onDefaultEngine`): those that
# drive the Python clients, ratestore's own failure handling (a proxy's refusals and 429s, a node killed
# mid-push, a node of three killed under client-side failover, where the engine only stores what the
# writer sends), the CLI's ingestion and the API's input checks (answered before the storage is asked).
# The production-shaped suites start OpenSearch 2.19.4 nodes of their own (real ISM; the security plugin
# with TLS and a least-privilege user) and need no shared node: they run in a second mocha process beside
# the first, since most of their time is spent waiting for ISM's job runs (one a minute), and their output
# follows the first run's. They need the ISM plugin zip in RATESTORE_ISM_PLUGIN_ZIP (Maven Central has
# none) and are pending without it.
set -uo pipefail
cd "$(dirname "$0")/.."

export RATESTORE_TEST_ENGINES=${RATESTORE_TEST_ENGINES:-opensearch:3.6.0 opensearch:2.19.6 elasticsearch:8.19.21 elasticsearch:7.10.2}
MOCHA=(npx mocha --no-config --node-option import=tsx --extension ts --require test/support/global-setup.ts --timeout 60000 --exit
  --reporter ./test/support/engine-reporter.ts)
PRODUCTION_SHAPED=(test/integration/search-engine/retention-ism.test.ts test/integration/search-engine/cluster-security.test.ts)
[ -n "${RATESTORE_ISM_PLUGIN_ZIP:-}" ] ||
  echo "note: RATESTORE_ISM_PLUGIN_ZIP is not set, so the real-ISM and secured-cluster suites are pending (Maven Central has no ISM plugin zip; ../shared/plugins/ holds one for 2.19.4)"

started=$SECONDS
side=$(mktemp)
RATESTORE_SKIP_CLUSTER=1 "${MOCHA[@]}" "${PRODUCTION_SHAPED[@]}" >"$side" 2>&1 &
side_pid=$!
echo "=== every suite on: $RATESTORE_TEST_ENGINES (the production-shaped suites run beside it; their output follows)"
npx mocha
main=$?
wait "$side_pid"
side_rc=$?
echo
echo "=== the production-shaped suites (OpenSearch 2.19.4: real ISM; secured)"
cat "$side"
rm -f "$side"
echo "=== exit $main (every suite), $side_rc (production-shaped); $((SECONDS - started)) s in all"
[ "$main" -eq 0 ] && [ "$side_rc" -eq 0 ]
