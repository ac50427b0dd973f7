#!/usr/bin/env bash
# Provisions and runs a single-node OpenSearch on 127.0.0.1 for development, tests and benchmarks.
#
#   scripts/opensearch-local.sh start|ensure   fetch (once), install, start, wait until it answers
#   scripts/opensearch-local.sh stop           stop the node this script started (by its pid)
#   scripts/opensearch-local.sh status         running or not, pid, version
#   scripts/opensearch-local.sh url            the URL the node answers on
#   scripts/opensearch-local.sh logs           the tail of the node's log
#
# Where OPENSEARCH_URL is set, the project uses that cluster and this script provisions nothing.
# Every setting is an environment variable; the README lists them with their defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OS_VERSION=${RATESTORE_OS_VERSION:-3.6.0}
OS_PORT=${RATESTORE_OS_PORT:-9200}
OS_HEAP=${RATESTORE_OS_HEAP:-512m}
OS_MODULES=${RATESTORE_OS_MODULES:-minimal}
OS_PLUGINS=${RATESTORE_OS_PLUGINS:-auto}
OS_START_TIMEOUT=${RATESTORE_OS_START_TIMEOUT:-180}
CACHE_DIR=${RATESTORE_CACHE_DIR:-$ROOT/.cache/opensearch}
OS_USER=${RATESTORE_OS_USER:-ratestore-os}
DOWNLOADS="$CACHE_DIR/downloads"
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { printf '[opensearch-local] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs a missing tool from Debian's packages when we can (root, apt), else says what is missing.
need() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    log "installing $2 (needed for $1)"
    apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null
  fi
  command -v "$1" >/dev/null || die "$1 is required: install the $2 package"
}

major_of() { printf '%s' "${1%%.*}"; }

# OpenSearch 3.x needs Java 21 or newer; 2.x supports 11 to 21. Pick the newest JDK in range.
required_java() { if [ "$(major_of "$OS_VERSION")" -ge 3 ]; then echo 21; else echo 11; fi; }
max_java() { if [ "$(major_of "$OS_VERSION")" -ge 3 ]; then echo 99; else echo 21; fi; }

java_major() {
  local v
  v=$("$1/bin/java" -version 2>&1 | head -n1 | sed -E 's/.*version "([0-9]+)(\.[0-9]+)?.*/\1/')
  [ "$v" = "1" ] && v=8
  printf '%s' "$v"
}

find_java_home() {
  local need max best="" best_v=0 candidate v
  need=$(required_java)
  max=$(max_java)
  for candidate in "${OPENSEARCH_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    v=$(java_major "$candidate") || continue
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -ge "$need" ] && [ "$v" -le "$max" ] && [ "$v" -gt "$best_v" ]; then best=$candidate; best_v=$v; fi
  done
  [ -n "$best" ] || die "OpenSearch $OS_VERSION needs a JDK from $need to $max; none found in OPENSEARCH_JAVA_HOME, JAVA_HOME or /usr/lib/jvm"
  printf '%s' "$best"
}

# Fetches one artifact from Maven Central into the download cache; returns non-zero when Maven has no such artifact.
fetch_artifact() {
  local coords=$1 file=$2
  [ -s "$DOWNLOADS/$file" ] && return 0
  need mvn maven
  mkdir -p "$DOWNLOADS"
  log "fetching $coords from Maven Central"
  mvn -B -q "$MVN_DEP_PLUGIN:copy" -Dartifact="$coords" -DoutputDirectory="$DOWNLOADS" -Dmdep.overWriteReleases=false \
    >"$DOWNLOADS/.mvn-$file.log" 2>&1 || return 1
  [ -s "$DOWNLOADS/$file" ]
}

# The lifecycle (ISM) plugin pair, when Maven Central has it for this version. A miss is remembered so
# that every start does not ask again; delete the .missing file to retry.
plugin_zips() {
  local zips=() name coords file missing
  if [ "$OS_PLUGINS" = "none" ]; then return 0; fi
  if [ "$OS_PLUGINS" != "auto" ]; then
    for file in $OS_PLUGINS; do [ -s "$file" ] || die "plugin zip not found: $file"; zips+=("$file"); done
    printf '%s\n' "${zips[@]}"
    return 0
  fi
  for name in opensearch-job-scheduler opensearch-index-management; do
    file="$name-$OS_VERSION.0.zip"
    missing="$DOWNLOADS/$file.missing"
    [ -e "$missing" ] && return 0
    coords="org.opensearch.plugin:$name:$OS_VERSION.0:zip"
    if ! fetch_artifact "$coords" "$file"; then
      mkdir -p "$DOWNLOADS" && : >"$missing"
      log "$coords is not on Maven Central: the node runs without ISM (the service's retention sweeper takes over)"
      return 0
    fi
    zips+=("$DOWNLOADS/$file")
  done
  printf '%s\n' "${zips[@]}"
}

# A root-run node is refused by OpenSearch: run it as an unprivileged system user created for the purpose.
ensure_runner_user() {
  if [ "$(id -u)" -ne 0 ] || id "$OS_USER" >/dev/null 2>&1; then return 0; fi
  log "creating unprivileged user $OS_USER to run OpenSearch (it refuses to run as root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
}

runner_prefix() {
  if [ "$(id -u)" -eq 0 ]; then printf 'runuser -u %s --' "$OS_USER"; fi
}

runtime_dir() {
  local dir="$CACHE_DIR/node-$OS_PORT"
  # The unprivileged user must be able to reach the folder; a checkout under /root is not reachable.
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$dir"
    chown "$OS_USER" "$dir" 2>/dev/null || true
    if ! runuser -u "$OS_USER" -- test -w "$dir" 2>/dev/null; then dir="/var/tmp/ratestore-opensearch/node-$OS_PORT"; fi
  fi
  printf '%s' "$dir"
}

install_node() {
  local home=$1 zip="opensearch-$OS_VERSION.zip" staging plugin
  [ -x "$home/bin/opensearch" ] && return 0
  need unzip unzip
  fetch_artifact "org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip" "$zip" \
    || die "could not fetch OpenSearch $OS_VERSION from Maven Central (see $DOWNLOADS/.mvn-$zip.log)"
  staging="$home.staging"
  rm -rf "$staging" && mkdir -p "$staging"
  unzip -q "$DOWNLOADS/$zip" -d "$staging"
  mv "$staging/opensearch-$OS_VERSION" "$staging/home"
  if [ "$OS_MODULES" = "minimal" ]; then
    # Keep only the transport: nothing in this project may depend on painless, reindex, mapper-extras or
    # analysis-common, which minimal and managed clusters may not have.
    find "$staging/home/modules" -mindepth 1 -maxdepth 1 ! -name transport-netty4 -exec rm -rf {} +
  fi
  while IFS= read -r plugin; do
    [ -n "$plugin" ] || continue
    log "installing plugin $(basename "$plugin")"
    OPENSEARCH_JAVA_HOME=$JAVA_FOR_OS "$staging/home/bin/opensearch-plugin" install --batch "file://$plugin" >/dev/null
  done < <(plugin_zips)
  rm -rf "$home" && mv "$staging/home" "$home" && rm -rf "$staging"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
read_pid() { [ -s "$RUN/opensearch.pid" ] && cat "$RUN/opensearch.pid" || true; }
answers() { curl -fsS --max-time 2 "http://127.0.0.1:$OS_PORT/" >/dev/null 2>&1; }
version_line() { curl -fsS --max-time 2 "http://127.0.0.1:$OS_PORT/" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' | head -n1; }

show_log_tail() {
  local f="$RUN/logs/ratestore-local.log"
  [ -f "$f" ] || f="$RUN/console.log"
  log "last lines of $f:"
  tail -n 40 "$f" >&2 2>/dev/null || true
}

cmd_start() {
  local pid prefix home
  need curl curl
  pid=$(read_pid)
  if pid_alive "$pid" && answers; then
    log "already running (pid $pid, OpenSearch $(version_line)) on http://127.0.0.1:$OS_PORT"
    return 0
  fi
  if pid_alive "$pid"; then
    log "node pid $pid is alive but not answering yet; waiting"
  else
    if [ -n "$pid" ]; then
      log "previous node (pid $pid) is gone; its log follows"
      show_log_tail
    fi
    if answers; then die "port $OS_PORT already answers but not from a node this script started; set RATESTORE_OS_PORT or OPENSEARCH_URL"; fi
    JAVA_FOR_OS=$(find_java_home)
    home="$CACHE_DIR/opensearch-$OS_VERSION-$OS_MODULES-$(printf '%s' "$OS_PLUGINS" | cksum | cut -d' ' -f1)"
    install_node "$home"
    prefix=$(runner_prefix)
    mkdir -p "$RUN/data" "$RUN/logs"
    rm -f "$RUN/opensearch.pid"
    if [ -n "$prefix" ]; then chown -R "$OS_USER" "$RUN" "$home"; fi
    log "starting OpenSearch $OS_VERSION (java $(java_major "$JAVA_FOR_OS"), heap $OS_HEAP) on http://127.0.0.1:$OS_PORT"
    # shellcheck disable=SC2086
    $prefix env OPENSEARCH_JAVA_HOME="$JAVA_FOR_OS" OPENSEARCH_PATH_CONF="$home/config" \
      OPENSEARCH_JAVA_OPTS="-Xms$OS_HEAP -Xmx$OS_HEAP" \
      "$home/bin/opensearch" -d -p "$RUN/opensearch.pid" \
      -Ecluster.name=ratestore-local -Enode.name=ratestore-local \
      -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 -Ehttp.port="$OS_PORT" \
      -Epath.data="$RUN/data" -Epath.logs="$RUN/logs" \
      -Ecluster.routing.allocation.disk.threshold_enabled=false \
      >"$RUN/console.log" 2>&1 || { show_log_tail; die "OpenSearch failed to start"; }
  fi
  local waited=0
  while ! answers; do
    pid=$(read_pid)
    if [ "$waited" -gt 5 ] && ! pid_alive "$pid"; then show_log_tail; die "OpenSearch exited during start-up"; fi
    [ "$waited" -ge "$OS_START_TIMEOUT" ] && { show_log_tail; die "OpenSearch did not answer within ${OS_START_TIMEOUT}s"; }
    sleep 1; waited=$((waited + 1))
  done
  log "ready after ${waited}s: pid $(read_pid), OpenSearch $(version_line), data in $RUN/data"
}

cmd_stop() {
  local pid i
  pid=$(read_pid)
  if ! pid_alive "$pid"; then log "not running"; rm -f "$RUN/opensearch.pid"; return 0; fi
  log "stopping pid $pid"
  kill -TERM "$pid"
  for i in $(seq 1 60); do pid_alive "$pid" || break; sleep 0.5; done
  if pid_alive "$pid"; then log "still alive after 30s; killing"; kill -KILL "$pid"; sleep 1; fi
  rm -f "$RUN/opensearch.pid"
  log "stopped"
}

cmd_status() {
  local pid
  pid=$(read_pid)
  if pid_alive "$pid" && answers; then
    echo "running pid=$pid version=$(version_line) url=http://127.0.0.1:$OS_PORT"
  elif pid_alive "$pid"; then
    echo "starting pid=$pid url=http://127.0.0.1:$OS_PORT"
  else
    echo "stopped"; return 3
  fi
}

main() {
  local cmd=${1:-status}
  if [ -n "${OPENSEARCH_URL:-}" ]; then
    case "$cmd" in
      start|ensure|stop|status) log "OPENSEARCH_URL is set ($(printf '%s' "$OPENSEARCH_URL" | sed -E 's#//[^@/]*@#//***@#')): using it, provisioning nothing"; return 0 ;;
      url) echo "$OPENSEARCH_URL"; return 0 ;;
    esac
  fi
  ensure_runner_user
  RUN=$(runtime_dir)
  case "$cmd" in
    start|ensure) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "http://127.0.0.1:$OS_PORT" ;;
    logs) show_log_tail ;;
    *) die "usage: $0 start|ensure|stop|status|url|logs" ;;
  esac
}

main "$@"
