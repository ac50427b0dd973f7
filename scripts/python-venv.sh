#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv the tests use, from PyPI, and prints its python's path.
# The venv is keyed by the requirements file's hash: a change of pins builds a new one.
set -euo pipefail
cd "$(dirname "$0")/.."
REQS="${1:-test/python/requirements.txt}"
PYTHON="${RATESTORE_PYTHON:-python3}"
hash=$(sha256sum "$REQS" | cut -c1-12)
VENV="${RATESTORE_VENV_DIR:-.cache/python}/venv-$hash"
# One build at a time per venv: the test run starts building early, in the background, and a suite that
# needs the venv before it is done waits here for it instead of building it again.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/.complete" ]; then
  rm -rf "$VENV"
  echo "[python-venv] creating $VENV from $REQS" >&2
  "$PYTHON" -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS" >&2
  touch "$VENV/.complete"
fi
echo "$VENV/bin/python"
