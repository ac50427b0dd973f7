#!/usr/bin/env bash
# Prints the path of a Prometheus binary for CloudKitty's pipeline test, installing Debian's
# `prometheus` package (2.42 on bookworm) when it is missing and this runs as root, as
# scripts/engine-local.sh installs the tools it needs.
set -euo pipefail
if ! command -v prometheus >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "[prometheus] installing Debian's prometheus package" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
command -v prometheus || { echo "[prometheus] error: prometheus is required: install Debian's prometheus package" >&2; exit 1; }
