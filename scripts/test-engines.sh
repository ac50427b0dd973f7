#!/usr/bin/env bash
# Runs the storage, API and CLI integration suites once per engine, in the way kysely loops its tests
# over dialects: each engine gets its own node from scripts/engine-local.sh (fetched from Maven Central
# on first use), the same test files, and a line in the summary printed at the end.
#
#   scripts/test-engines.sh                      the CI matrix (RATESTORE_TEST_ENGINES below)
#   RATESTORE_TEST_ENGINES="elasticsearch:7.17.29" scripts/test-engines.sh
#
# The default engine (OpenSearch 3.6.0) runs every suite in `npm test`; the suites that only drive the
# Python clients (CloudKitty's driver, schemathesis) do not depend on the engine and run there only.
set -uo pipefail
cd "$(dirname "$0")/.."

ENGINES=${RATESTORE_TEST_ENGINES:-opensearch:2.19.6 elasticsearch:8.19.21 elasticsearch:7.10.2}
ENGINE_INDEPENDENT='cloudkitty-driver|api-schemathesis'
mapfile -t SUITES < <(ls test/integration/*.test.ts | grep -Ev "$ENGINE_INDEPENDENT")
summary=()
status=0
for entry in $ENGINES; do
  engine=${entry%%:*}
  version=${entry#*:}
  log=$(mktemp)
  started=$SECONDS
  echo "=== $engine $version: ${#SUITES[@]} suites"
  RATESTORE_ENGINE=$engine RATESTORE_ENGINE_VERSION=$version \
    npx mocha --no-config --node-option import=tsx --extension ts --require test/support/global-setup.ts \
    --timeout 60000 --exit --reporter spec "${SUITES[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  passing=$(grep -Eo '^ +[0-9]+ passing' "$log" | grep -Eo '[0-9]+' | tail -n1)
  failing=$(grep -Eo '^ +[0-9]+ failing' "$log" | grep -Eo '[0-9]+' | tail -n1)
  pending=$(grep -Eo '^ +[0-9]+ pending' "$log" | grep -Eo '[0-9]+' | tail -n1)
  summary+=("$engine $version: ${passing:-0} passing, ${failing:-0} failing, ${pending:-0} pending (skipped where the engine lacks what they test), exit $rc, $((SECONDS - started)) s")
  [ "$rc" -eq 0 ] || status=1
  rm -f "$log"
done
echo
echo "=== engine matrix"
printf '%s\n' "${summary[@]}"
exit "$status"
