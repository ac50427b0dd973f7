#!/usr/bin/env bash
# Provisions and runs OpenSearch or Elasticsearch nodes on 127.0.0.1 for development, tests and benchmarks,
# from the integ-test-zips on Maven Central.
#
#   scripts/engine-local.sh start|ensure   fetch (once), install, start, wait until the node serves requests
#   scripts/engine-local.sh install        fetch (once) and install, without starting
#   scripts/engine-local.sh stop           stop the node this script started
#   scripts/engine-local.sh status         running or not, pid, engine and version
#   scripts/engine-local.sh url            the URL the node answers on
#   scripts/engine-local.sh ca             the CA file of a node with RATESTORE_OS_SECURITY=demo
#   scripts/engine-local.sh pid            the node's process id (for tests that kill -9 it)
#   scripts/engine-local.sh logs           the tail of the node's log
#
# Which engine and node (environment; docs/engines.md lists them):
#   RATESTORE_ENGINE             opensearch (default) | elasticsearch
#   RATESTORE_ENGINE_VERSION     3.6.0 for OpenSearch, 8.19.21 for Elasticsearch by default
#   RATESTORE_ENGINE_PORT        HTTP port (9200); the transport port is this + 100 unless
#   RATESTORE_ENGINE_TRANSPORT_PORT says otherwise, so that several nodes on one machine never collide
#   RATESTORE_ENGINE_HEAP        512m
#   RATESTORE_ENGINE_CLUSTER_PORTS  comma-separated HTTP ports of all nodes of a multi-node cluster on this
#                                machine, this node's port among them; each node is started by its own call
#   RATESTORE_ENGINE_SETTINGS    extra node settings, space-separated key=value (each passed as -Ekey=value)
#   RATESTORE_ISM_PLUGIN_ZIP     an OpenSearch index-management (ISM) plugin zip to install where Maven Central
#                                has none for the version (../shared/plugins/ holds one for 2.19.4)
#   RATESTORE_OS_SECURITY        none (default) | demo: OpenSearch's security plugin from Maven Central with its
#                                demo configuration (TLS with a self-signed CA, basic auth); the node serves
#                                HTTPS, its CA at `scripts/engine-local.sh ca`, the user admin with
#   RATESTORE_OS_ADMIN_PASSWORD  the admin password (required with demo; the plugin refuses weak ones)
#
# RATESTORE_OS_VERSION, RATESTORE_OS_PORT and RATESTORE_OS_HEAP are read as older names of the same settings.
# Where RATESTORE_CLUSTER_URL (or its older name OPENSEARCH_URL) is set, the project uses that cluster
# and this script provisions nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE=${RATESTORE_ENGINE:-opensearch}
case "$ENGINE" in
  opensearch) DEFAULT_VERSION=3.6.0 ;;
  elasticsearch) DEFAULT_VERSION=8.19.21 ;;
  *) printf '[engine-local] error: RATESTORE_ENGINE must be opensearch or elasticsearch, not %s\n' "$ENGINE" >&2; exit 1 ;;
esac
VERSION=${RATESTORE_ENGINE_VERSION:-${RATESTORE_OS_VERSION:-$DEFAULT_VERSION}}
[ "$ENGINE" = opensearch ] || VERSION=${RATESTORE_ENGINE_VERSION:-$DEFAULT_VERSION}
PORT=${RATESTORE_ENGINE_PORT:-${RATESTORE_OS_PORT:-9200}}
TRANSPORT_PORT=${RATESTORE_ENGINE_TRANSPORT_PORT:-$((PORT + 100))}
HEAP=${RATESTORE_ENGINE_HEAP:-${RATESTORE_OS_HEAP:-512m}}
CLUSTER_PORTS=${RATESTORE_ENGINE_CLUSTER_PORTS:-}
MODULES=${RATESTORE_OS_MODULES:-minimal}
PLUGINS=${RATESTORE_OS_PLUGINS:-auto}
ISM_ZIP=${RATESTORE_ISM_PLUGIN_ZIP:-}
SECURITY=${RATESTORE_OS_SECURITY:-none}
ADMIN_PASSWORD=${RATESTORE_OS_ADMIN_PASSWORD:-}
EXTRA_SETTINGS=${RATESTORE_ENGINE_SETTINGS:-}
START_TIMEOUT=${RATESTORE_ENGINE_START_TIMEOUT:-${RATESTORE_OS_START_TIMEOUT:-240}}
CACHE_DIR=${RATESTORE_CACHE_DIR:-$ROOT/.cache/engines}
RUN_USER=${RATESTORE_OS_USER:-ratestore-os}
DOWNLOADS="$CACHE_DIR/downloads"
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAJOR=${VERSION%%.*}

log() { printf '[engine-local] %s\n' "$*" >&2; }
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

# The JDK range each engine supports: OpenSearch 3 needs 21+, OpenSearch 2 runs on 11-21,
# Elasticsearch 8 on 17-21, Elasticsearch 7 on 11-17 (7.10 was released before 17 but runs on it).
java_range() {
  case "$ENGINE-$MAJOR" in
    opensearch-[3-9]) echo "21 99" ;;
    opensearch-*) echo "11 21" ;;
    elasticsearch-[8-9]) echo "17 21" ;;
    *) echo "11 17" ;;
  esac
}

java_major() {
  local v
  v=$("$1/bin/java" -version 2>&1 | head -n1 | sed -E 's/.*version "([0-9]+)(\.[0-9]+)?.*/\1/')
  [ "$v" = "1" ] && v=8
  printf '%s' "$v"
}

find_java_home() {
  local need max best="" best_v=0 candidate v
  read -r need max < <(java_range)
  for candidate in "${OPENSEARCH_JAVA_HOME:-}" "${ES_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    v=$(java_major "$candidate") || continue
    [[ "$v" =~ ^[0-9]+$ ]] || continue
    if [ "$v" -ge "$need" ] && [ "$v" -le "$max" ] && [ "$v" -gt "$best_v" ]; then best=$candidate; best_v=$v; fi
  done
  [ -n "$best" ] || die "$ENGINE $VERSION needs a JDK from $need to $max; none found in OPENSEARCH_JAVA_HOME, ES_JAVA_HOME, JAVA_HOME or /usr/lib/jvm"
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

# OpenSearch's lifecycle (ISM) plugin pair, when Maven Central has it for this version. ISM is looked up
# first, since job-scheduler alone is of no use. A miss is remembered for the machine (not the clone) for
# a week, so that neither a restart nor a fresh clone asks Maven again; delete the marker to ask at once.
MISS_DIR=${RATESTORE_MAVEN_MISS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ratestore/maven-misses}
known_missing() { [ -n "$(find "$MISS_DIR/$1" -mtime -7 2>/dev/null)" ]; }
plugin_zips() {
  local zips=() name coords file
  if [ "$ENGINE" != opensearch ] || [ "$PLUGINS" = "none" ]; then return 0; fi
  if [ "$PLUGINS" != "auto" ]; then
    for file in $PLUGINS; do [ -s "$file" ] || die "plugin zip not found: $file"; zips+=("$file"); done
    printf '%s\n' "${zips[@]}"
    return 0
  fi
  for name in opensearch-index-management opensearch-job-scheduler; do
    if [ "$name" = opensearch-index-management ] && [ -n "$ISM_ZIP" ]; then
      zips+=("$ISM_ZIP")
      continue
    fi
    file="$name-$VERSION.0.zip"
    coords="org.opensearch.plugin:$name:$VERSION.0:zip"
    if known_missing "$coords"; then
      log "$coords is not on Maven Central (remembered in $MISS_DIR): the node runs without ISM"
      return 0
    fi
    if ! fetch_artifact "$coords" "$file"; then
      mkdir -p "$MISS_DIR" && : >"$MISS_DIR/$coords"
      log "$coords is not on Maven Central: the node runs without ISM (the service's retention sweeper takes over)"
      return 0
    fi
    zips+=("$DOWNLOADS/$file")
  done
  # Installed in dependency order: the job scheduler first.
  for ((i = ${#zips[@]} - 1; i >= 0; i--)); do printf '%s\n' "${zips[$i]}"; done
}

ism_zip_for_version() {
  [ -n "$ISM_ZIP" ] && [ "$ENGINE" = opensearch ] || { ISM_ZIP=""; return 0; }
  [ -s "$ISM_ZIP" ] || die "RATESTORE_ISM_PLUGIN_ZIP names no file: $ISM_ZIP"
  need unzip unzip
  if [ "$(unzip -p "$ISM_ZIP" plugin-descriptor.properties | sed -n 's/^opensearch\.version=//p' | tr -d '\r')" != "$VERSION" ]; then ISM_ZIP=""; fi
}

# The installed node: one folder per engine, version, modules, plugins and security set-up (the admin
# password is set at install, so another password is another installation).
node_home() {
  printf '%s' "$CACHE_DIR/$ENGINE-$VERSION-$MODULES-$(printf '%s %s %s %s' "$PLUGINS" "$ISM_ZIP" "$SECURITY" "$ADMIN_PASSWORD" | cksum | cut -d' ' -f1)"
}
ca_file() { printf '%s/config/root-ca.pem' "$(node_home)"; }

# Both engines refuse to run as root: run them as an unprivileged system user created for the purpose.
ensure_runner_user() {
  if [ "$(id -u)" -ne 0 ] || id "$RUN_USER" >/dev/null 2>&1; then return 0; fi
  log "creating unprivileged user $RUN_USER to run $ENGINE (it refuses to run as root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

runner_prefix() {
  if [ "$(id -u)" -eq 0 ]; then printf 'runuser -u %s --' "$RUN_USER"; fi
}

runtime_dir() {
  local dir="$CACHE_DIR/node-$PORT-$ENGINE-$VERSION"
  # The unprivileged user must be able to reach the folder; a checkout under /root is not reachable.
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$dir"
    chown "$RUN_USER" "$dir" 2>/dev/null || true
    if ! runuser -u "$RUN_USER" -- test -w "$dir" 2>/dev/null; then dir="/var/tmp/ratestore-engines/node-$PORT-$ENGINE-$VERSION"; fi
  fi
  printf '%s' "$dir"
}

install_node() {
  local home=$1 zip="$ENGINE-$VERSION.zip" staging plugin
  [ -x "$home/bin/$ENGINE" ] && return 0
  need unzip unzip
  fetch_artifact "org.$ENGINE.distribution.integ-test-zip:$ENGINE:$VERSION:zip" "$zip" \
    || die "could not fetch $ENGINE $VERSION from Maven Central (see $DOWNLOADS/.mvn-$zip.log)"
  staging="$home.staging"
  rm -rf "$staging" && mkdir -p "$staging"
  unzip -q "$DOWNLOADS/$zip" -d "$staging"
  mv "$staging/$ENGINE-$VERSION" "$staging/home"
  if [ "$ENGINE" = opensearch ] && [ "$MODULES" = "minimal" ]; then
    # Keep only the transport: nothing in this project may depend on painless, reindex, mapper-extras or
    # analysis-common, which minimal and managed clusters may not have. (Elasticsearch's integ-test-zip
    # already ships only the transport, x-pack-core and x-pack-security.)
    find "$staging/home/modules" -mindepth 1 -maxdepth 1 ! -name transport-netty4 -exec rm -rf {} +
  fi
  while IFS= read -r plugin; do
    [ -n "$plugin" ] || continue
    log "installing plugin $(basename "$plugin")"
    OPENSEARCH_JAVA_HOME=$JAVA_FOR_NODE "$staging/home/bin/opensearch-plugin" install --batch "file://$plugin" >/dev/null
  done < <(plugin_zips)
  if [ "$SECURITY" = demo ]; then install_demo_security "$staging/home"; fi
  rm -rf "$home" && mv "$staging/home" "$home" && rm -rf "$staging"
}

# The security plugin and its demo configuration: TLS on HTTP and transport with a self-signed CA
# (config/root-ca.pem), basic auth, the admin user with RATESTORE_OS_ADMIN_PASSWORD.
install_demo_security() {
  local home=$1 file="opensearch-security-$VERSION.0.zip"
  fetch_artifact "org.opensearch.plugin:opensearch-security:$VERSION.0:zip" "$file" \
    || die "could not fetch the security plugin for OpenSearch $VERSION from Maven Central (see $DOWNLOADS/.mvn-$file.log)"
  log "installing plugin $file with its demo configuration"
  OPENSEARCH_JAVA_HOME=$JAVA_FOR_NODE "$home/bin/opensearch-plugin" install --batch "file://$DOWNLOADS/$file" >/dev/null
  OPENSEARCH_JAVA_HOME=$JAVA_FOR_NODE OPENSEARCH_INITIAL_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    bash "$home/plugins/opensearch-security/tools/install_demo_configuration.sh" -y -i -s >"$home/security-demo.log" 2>&1 \
    || { tail -n 5 "$home/security-demo.log" >&2; die "the security demo configuration failed (see $home/security-demo.log)"; }
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# The pid file appears only once the JVM is up; until then the node is found by its data path.
node_pid() {
  local pid=""
  [ -s "$RUN/node.pid" ] && pid=$(cat "$RUN/node.pid")
  if ! pid_alive "$pid"; then pid=$(pgrep -f -- "-Epath.data=$RUN/data" | head -n1 || true); fi
  printf '%s' "$pid"
}
node_url() { if [ "$SECURITY" = demo ]; then printf 'https://127.0.0.1:%s' "$PORT"; else printf 'http://127.0.0.1:%s' "$PORT"; fi; }
# curl to the node: with the demo security, over TLS (checked against the node's own CA) as admin.
node_curl() {
  if [ "$SECURITY" = demo ]; then
    local ca
    ca=$(ca_file)
    if [ -s "$ca" ]; then curl --cacert "$ca" -u "admin:$ADMIN_PASSWORD" "$@"; else curl -k -u "admin:$ADMIN_PASSWORD" "$@"; fi
  else
    curl "$@"
  fi
}
# Serving means a cluster manager is elected and every primary is assigned (the lifecycle plugin's own
# indices too): `GET /` answers earlier, and Elasticsearch 8's test zip has none.
serving() { node_curl -fsS --max-time 5 "$(node_url)/_cluster/health?wait_for_status=yellow&timeout=3s" >/dev/null 2>&1; }
port_taken() { curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null || curl -ksS --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/" 2>/dev/null; }
version_line() {
  node_curl -fsS --max-time 3 "$(node_url)/_nodes/_local?filter_path=nodes.*.version" | sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' | head -n1
}

show_log_tail() {
  local f
  f=$(ls -t "$RUN"/logs/*.log 2>/dev/null | head -n1 || true)
  [ -n "$f" ] || f="$RUN/console.log"
  log "last lines of $f:"
  tail -n 40 "$f" >&2 2>/dev/null || true
}

# The settings that make this node one of a cluster on loopback (or a cluster of its own).
discovery_args() {
  local cm=cluster.initial_cluster_manager_nodes seeds="" names="" p
  [ "$ENGINE" = elasticsearch ] && cm=cluster.initial_master_nodes
  if [ -z "$CLUSTER_PORTS" ]; then
    printf '%s\n' "-Ecluster.name=ratestore-local-$PORT" "-Ediscovery.type=single-node"
    return 0
  fi
  for p in ${CLUSTER_PORTS//,/ }; do
    seeds="$seeds,127.0.0.1:$((p + 100))"
    names="$names,node-$p"
  done
  printf '%s\n' "-Ecluster.name=ratestore-local-${CLUSTER_PORTS//,/-}" "-Ediscovery.seed_hosts=${seeds#,}" "-E$cm=${names#,}"
}

cmd_start() {
  local pid prefix home args setting
  need curl curl
  need pgrep procps
  pid=$(node_pid)
  if pid_alive "$pid" && serving; then
    log "already running (pid $pid, $ENGINE $(version_line)) on $(node_url)"
    return 0
  fi
  if pid_alive "$pid"; then
    log "node pid $pid is alive but not serving yet; waiting"
  else
    if [ -s "$RUN/node.pid" ]; then
      log "previous node (pid $(cat "$RUN/node.pid")) is gone; its log follows"
      show_log_tail
    fi
    if port_taken; then die "port $PORT already answers but not from a node this script started; set RATESTORE_ENGINE_PORT or RATESTORE_CLUSTER_URL"; fi
    JAVA_FOR_NODE=$(find_java_home)
    home=$(node_home)
    install_node "$home"
    prefix=$(runner_prefix)
    mkdir -p "$RUN/data" "$RUN/logs"
    rm -f "$RUN/node.pid"
    if [ -n "$prefix" ]; then chown -R "$RUN_USER" "$RUN" "$home"; fi
    mapfile -t args < <(discovery_args)
    args+=("-Enode.name=node-$PORT" "-Enetwork.host=127.0.0.1" "-Ehttp.port=$PORT" "-Etransport.port=$TRANSPORT_PORT"
      "-Epath.data=$RUN/data" "-Epath.logs=$RUN/logs" "-Ecluster.routing.allocation.disk.threshold_enabled=false")
    # Elasticsearch 8 turns security (TLS, passwords) on by default; a local test node runs without it.
    if [ "$ENGINE" = elasticsearch ] && [ "$MAJOR" -ge 8 ]; then args+=("-Expack.security.enabled=false"); fi
    for setting in $EXTRA_SETTINGS; do args+=("-E$setting"); done
    log "starting $ENGINE $VERSION (java $(java_major "$JAVA_FOR_NODE"), heap $HEAP) on $(node_url), transport $TRANSPORT_PORT${CLUSTER_PORTS:+, cluster of $CLUSTER_PORTS}"
    # shellcheck disable=SC2086
    $prefix env OPENSEARCH_JAVA_HOME="$JAVA_FOR_NODE" ES_JAVA_HOME="$JAVA_FOR_NODE" JAVA_HOME="$JAVA_FOR_NODE" \
      OPENSEARCH_PATH_CONF="$home/config" ES_PATH_CONF="$home/config" \
      OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
      "$home/bin/$ENGINE" -d -p "$RUN/node.pid" "${args[@]}" \
      >"$RUN/console.log" 2>&1 || { show_log_tail; die "$ENGINE failed to start"; }
  fi
  local waited=0
  while ! serving; do
    pid=$(node_pid)
    if ! pid_alive "$pid"; then show_log_tail; die "$ENGINE exited during start-up"; fi
    [ "$waited" -ge "$START_TIMEOUT" ] && { show_log_tail; die "$ENGINE did not serve within ${START_TIMEOUT}s"; }
    sleep 1; waited=$((waited + 1))
  done
  log "ready after ${waited}s: pid $(node_pid), $ENGINE $(version_line), data in $RUN/data"
}

cmd_install() {
  JAVA_FOR_NODE=$(find_java_home)
  install_node "$(node_home)"
  log "$ENGINE $VERSION installed in $(node_home)"
}

cmd_stop() {
  local pid i
  pid=$(node_pid)
  if ! pid_alive "$pid"; then log "not running"; rm -f "$RUN/node.pid"; return 0; fi
  log "stopping pid $pid"
  kill -TERM "$pid"
  for i in $(seq 1 60); do pid_alive "$pid" || break; sleep 0.5; done
  if pid_alive "$pid"; then log "still alive after 30s; killing"; kill -KILL "$pid"; sleep 1; fi
  rm -f "$RUN/node.pid"
  log "stopped"
}

cmd_status() {
  local pid
  pid=$(node_pid)
  if pid_alive "$pid" && serving; then
    echo "running pid=$pid engine=$ENGINE version=$(version_line) url=$(node_url)"
  elif pid_alive "$pid"; then
    echo "starting pid=$pid url=$(node_url)"
  else
    echo "stopped"; return 3
  fi
}

main() {
  local cmd=${1:-status}
  local given=${RATESTORE_CLUSTER_URL:-${OPENSEARCH_URL:-}}
  if [ -n "$given" ]; then
    case "$cmd" in
      start|ensure|install|stop|status) log "RATESTORE_CLUSTER_URL is set ($(printf '%s' "$given" | sed -E 's#//[^@/]*@#//***@#g')): using it, provisioning nothing"; return 0 ;;
      url) echo "$given"; return 0 ;;
    esac
  fi
  case "$SECURITY" in
    none) ;;
    demo)
      [ "$ENGINE" = opensearch ] || die "RATESTORE_OS_SECURITY=demo is for OpenSearch only"
      [ -n "$ADMIN_PASSWORD" ] || die "RATESTORE_OS_SECURITY=demo needs RATESTORE_OS_ADMIN_PASSWORD (a strong password: the plugin refuses weak ones)"
      ;;
    *) die "RATESTORE_OS_SECURITY must be none or demo, not $SECURITY" ;;
  esac
  ism_zip_for_version
  ensure_runner_user
  RUN=$(runtime_dir)
  case "$cmd" in
    start|ensure) cmd_start ;;
    install) cmd_install ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) node_url; echo ;;
    ca) [ "$SECURITY" = demo ] || die "the node has no CA of its own without RATESTORE_OS_SECURITY=demo"; ca_file; echo ;;
    pid) node_pid; echo ;;
    logs) show_log_tail ;;
    *) die "usage: $0 start|ensure|install|stop|status|url|ca|pid|logs" ;;
  esac
}

main "$@"
