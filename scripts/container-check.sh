#!/usr/bin/env bash
# Builds the service's image from the Dockerfile, runs it against a real engine node and checks what an
# operator relies on: /healthz and /readyz answer through a published port (the image listens on
# 0.0.0.0), a push is stored and read back, and Docker's health check reports healthy.
#
#   bash scripts/container-check.sh     exit 0 passed, 1 failed, 3 no Docker engine could be had here
#
# No image registry is reachable here, so the Dockerfile's Node.js image (NODE_IMAGE) is replaced by a
# base made locally: Debian bookworm from debootstrap (Debian's mirror is reachable), Node.js 24's
# official binary (scripts/node-lts.sh), npm, a `node` user as in the official image, and this
# machine's CA bundle (npm ci in the build goes through the same TLS as the host). The base is kept as
# the image ratestore-base/node:24-bookworm; delete it to build it again. Needs root (debootstrap,
# dockerd) or a running Docker engine and an existing base. The engine: an OpenSearch 3.6.0 node of its
# own on RATESTORE_CHECK_ENGINE_PORT (default 9296), started and stopped here.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE=ratestore-base/node:24-bookworm
IMAGE=ratestore:check
ENGINE_PORT=${RATESTORE_CHECK_ENGINE_PORT:-9296}
MIRROR=${RATESTORE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$SECONDS
log() { printf '[container-check] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Exit status 3: no Docker engine could be had here (not a failure of the image); 1: the check failed.
no_engine() { log "no Docker engine: $*"; exit 3; }

ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || no_engine "none answers, and starting one needs root"
  if ! command -v dockerd >/dev/null; then
    log "installing Debian's docker.io"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null ||
      no_engine "Debian's docker.io could not be installed"
  fi
  log "starting dockerd"
  (dockerd >"${TMPDIR:-/tmp}/ratestore-dockerd.log" 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  no_engine "dockerd did not start (see ${TMPDIR:-/tmp}/ratestore-dockerd.log)"
}

build_base() {
  docker image inspect "$BASE" >/dev/null 2>&1 && { log "base $BASE present"; return 0; }
  [ "$(id -u)" -eq 0 ] || die "building the base $BASE needs root (debootstrap)"
  command -v debootstrap >/dev/null || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  local rootfs node_bin npm_version
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/ratestore-rootfs.XXXXXX")
  log "debootstrap of Debian bookworm (minbase) from $MIRROR"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; die "debootstrap failed"; }
  node_bin=$(bash scripts/node-lts.sh)
  install -m 0755 "$node_bin/node" "$rootfs/usr/local/bin/node"
  npm_version=$(npm --version)
  log "adding Node.js $("$node_bin/node" --version) and npm $npm_version"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  (cd "$rootfs/usr/local/lib/node_modules" && npm pack --silent "npm@$npm_version" >/dev/null && tar -xzf "npm-$npm_version.tgz" && mv package npm && rm "npm-$npm_version.tgz")
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  mkdir -p "$rootfs/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  chroot "$rootfs" /usr/sbin/useradd --create-home --uid 1000 --user-group --shell /bin/bash node
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["node"]' - "$BASE" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  log "base $BASE built in $((SECONDS - started)) s"
}

relay_pid=""
container=""
cleanup() {
  [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
  RATESTORE_ENGINE_PORT=$ENGINE_PORT bash scripts/engine-local.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

ensure_docker
build_base
step=$SECONDS
log "docker build (NODE_IMAGE=$BASE)"
docker build --quiet --network host --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" . >/dev/null
log "image built in $((SECONDS - step)) s: $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

RATESTORE_ENGINE_PORT=$ENGINE_PORT bash scripts/engine-local.sh start
# The node listens on loopback only; the container reaches it through a relay on the bridge's gateway.
gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
# Some engines leave the bridge's gateway out of its configuration: it is then docker0's address.
[ -n "$gateway" ] || gateway=$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$gateway" ] || die "cannot tell the address of Docker's bridge"

relay_port=$((ENGINE_PORT + 1000))
node -e '
  const net = require("node:net");
  const [host, port, target] = process.argv.slice(1);
  net.createServer((c) => {
    const u = net.connect(Number(target), "127.0.0.1");
    c.pipe(u).pipe(c);
    c.on("error", () => u.destroy());
    u.on("error", () => c.destroy());
  }).listen(Number(port), host);
' "$gateway" "$relay_port" "$ENGINE_PORT" &
relay_pid=$!

key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
container=$(docker run -d -p 127.0.0.1::8080 \
  -e RATESTORE_CLUSTER_URL="http://$gateway:$relay_port" \
  -e RATESTORE_INDEX_PREFIX=container-check \
  -e RATESTORE_API_KEYS="[{\"name\":\"admin\",\"key\":\"$key\",\"role\":\"admin\"}]" \
  -e RATESTORE_CURSOR_SECRET="$key-cursor" \
  "$IMAGE")
url="http://$(docker port "$container" 8080/tcp | head -n1)"
log "container ${container:0:12} serves on $url"

for _ in $(seq 1 90); do
  curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  [ "$(docker inspect "$container" --format '{{.State.Running}}')" = true ] || { docker logs "$container" 2>&1 | tail -20 >&2; die "the container exited"; }
  sleep 1
done
curl -fsS "$url/healthz" >/dev/null || { docker logs "$container" | tail -20 >&2; die "/healthz did not answer 200"; }
curl -fsS "$url/readyz" >/dev/null || { docker logs "$container" | tail -20 >&2; die "/readyz did not answer 200"; }
log "/healthz and /readyz: 200"

day=$(date -u +%F)
frame="{\"dataframes\":[{\"period\":{\"begin\":\"${day}T00:00:00Z\",\"end\":\"${day}T01:00:00Z\"},\"usage\":{\"instance\":[{\"vol\":{\"unit\":\"instance\",\"qty\":1},\"rating\":{\"price\":\"0.5\"},\"groupby\":{\"id\":\"vm-1\",\"project_id\":\"alpha\"},\"metadata\":{}}]}}]}"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$url/v2/dataframes" -H "authorization: Bearer $key" -H 'content-type: application/json' -d "$frame")
[ "$status" = 204 ] || die "the push answered $status, not 204"
summary=$(curl -fsS "$url/v2/summary?begin=${day}T00:00:00Z&end=${day}T01:00:00Z" -H "authorization: Bearer $key")
case "$summary" in
  *'[1,0.5]'* | *',1,0.5]'*) log "push stored and read back: $summary" ;;
  *) die "the summary after the push was $summary" ;;
esac
unauthenticated=$(curl -sS -o /dev/null -w '%{http_code}' "$url/v2/summary")
[ "$unauthenticated" = 401 ] || die "a read without a key answered $unauthenticated, not 401"

for _ in $(seq 1 60); do
  health=$(docker inspect "$container" --format '{{.State.Health.Status}}')
  [ "$health" = healthy ] && break
  sleep 2
done
[ "$health" = healthy ] || die "Docker's health check says $health"
log "Docker's health check: healthy"
log "passed in $((SECONDS - started)) s"
