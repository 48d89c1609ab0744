#!/usr/bin/env bash
# Builds and runs Ferry's container image with podman, on a machine with no Docker engine and no
# image registry: what tests/e2e/container.test.ts uses, and what a developer can run by hand.
#
#   scripts/container.sh build [--tag <name>] [--prebuilt dist/ferry]   # prints: image <name> <bytes> <seconds>
#   scripts/container.sh podman <args...>       # podman with this checkout's storage and runtime
#
# Idempotent; everything it keeps is under .cache/container/ (one run builds from scratch, later
# runs reuse the layers whose inputs did not change):
#   - podman, runc and mmdebstrap from Debian when missing (root only, like scripts/test.sh does
#     for chromium);
#   - the base image `debian:bookworm-slim`, made from Debian's packages with mmdebstrap (minbase,
#     the suites and the doc/man/locale exclusions of the official image) when no registry serves
#     it, and kept as a tarball;
#   - a runc wrapper that drops the OCI bundle's rlimits: some sandboxes refuse setrlimit, and
#     then every RUN and run fails with "setrlimit RLIMIT_NOFILE: Operation not permitted";
#   - podman's own storage: image layers, so the build stage's toolchain, node_modules and Kafka
#     addon are reused until the lockfile, Bun or the addon's sources change; and the build's cache
#     mounts (tmp/buildah-cache: addon builds by stamp, Node headers, Bun's package cache).
# The build gets this checkout's Kafka addon cache as a build context (the Containerfile says how
# it is used: only a build whose every input matches) and, behind a TLS-intercepting proxy, the
# CA bundle in FERRY_CONTAINER_EXTRA_CA (default: $NODE_EXTRA_CA_CERTS) as the secret `extra-ca`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Resolved: worktrees share .cache through a symlink, and podman records its storage path.
DIR=$(realpath -m "$ROOT/.cache/container")
STORAGE=$DIR/storage
# podman's run-time state belongs on a tmpfs, one per storage.
RUNROOT=/run/ferry-podman-$(realpath -m "$STORAGE" | sha256sum | cut -c1-12)
BASE_IMAGE=docker.io/library/debian:bookworm-slim
BASE_TAR=$DIR/bookworm-slim-minbase.tar
WRAPPER=$DIR/runtime/runc
t0=$SECONDS

say() { echo "container: $*" >&2; }
die() { say "$*"; exit 1; }
podman_() { podman --root "$STORAGE" --runroot "$RUNROOT" --runtime "$WRAPPER" "$@"; }

install_tools() {
  local missing=()
  for cmd in podman:podman runc:runc mmdebstrap:mmdebstrap; do command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}"); done
  ((${#missing[@]} == 0)) && return
  [[ $(id -u) -eq 0 ]] || die "not root; run: sudo apt-get install -y ${missing[*]}"
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

write_wrapper() {
  local body
  body=$(
    cat <<'EOF'
#!/bin/bash
# runc that ignores the OCI spec's rlimits (written by scripts/container.sh: some sandboxes refuse
# setrlimit): from the bundle's config.json (create, run) and from an exec's process.json.
args=("$@"); files=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --bundle | -b) files+=("${args[i + 1]}/config.json") ;;
    --process | -p) files+=("${args[i + 1]}") ;;
    --process=*) files+=("${args[i]#--process=}") ;;
  esac
done
for f in "${files[@]}"; do
  [[ -f $f ]] && python3 -c "
import json, sys
p = sys.argv[1]; c = json.load(open(p))
(c['process'] if 'process' in c else c).pop('rlimits', None)
json.dump(c, open(p, 'w'))" "$f"
done
exec /usr/sbin/runc "$@"
EOF
  )
  if [[ ! -x $WRAPPER || "$(cat "$WRAPPER")" != "$body" ]]; then
    mkdir -p "$(dirname "$WRAPPER")"
    printf '%s\n' "$body" >"$WRAPPER.tmp" && chmod +x "$WRAPPER.tmp" && mv "$WRAPPER.tmp" "$WRAPPER"
  fi
}

base_image() {
  podman_ image exists "$BASE_IMAGE" && return
  if [[ ! -f $BASE_TAR ]]; then
    say "making $BASE_IMAGE from Debian's packages with mmdebstrap (about a minute)"
    # Debian's mirrors over plain HTTP (apt checks the signatures): no proxy CA needed here.
    mmdebstrap --variant=minbase --mode=root --format=tar --quiet \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$BASE_TAR.tmp" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main"
    mv "$BASE_TAR.tmp" "$BASE_TAR"
  fi
  podman_ import --quiet "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

prepare() {
  local need_base=$1
  install_tools
  mkdir -p "$DIR"
  # One preparation at a time: worktrees of a checkout share .cache.
  exec 8>"$DIR/.lock"
  flock 8
  write_wrapper
  [[ $need_base == yes ]] && base_image
  say "podman and runtime wrapper ready in $((SECONDS - t0)) s"
}

build() {
  local tag=localhost/ferry:latest prebuilt=""
  while (($#)); do
    case $1 in
      --tag) tag=$2; shift 2 ;;
      --prebuilt) prebuilt=$2; shift 2 ;;
      *) die "build: unknown option $1" ;;
    esac
  done
  local args=(build --format docker --network host --layers -t "$tag" -f "$ROOT/Containerfile")
  local hostfs=""
  if [[ -n $prebuilt ]]; then
    # The runtime stage over a root file system laid out here, from an already-built binary, by the
    # same script the build stage runs (a Debian 12 host, as the build stage is): no base image,
    # no toolchain, no compile. The build stage is skipped (unused).
    [[ -x $prebuilt ]] || die "--prebuilt $prebuilt is not an executable"
    command -v dpkg >/dev/null || die "--prebuilt needs a Debian host (dpkg) to lay out the root file system; build without it"
    prepare no
    hostfs=$(mktemp -d)
    bash "$ROOT/scripts/container-rootfs.sh" "$prebuilt" "$hostfs/rootfs" >&2
    args+=(--build-arg ROOTFS=host-rootfs --build-context "host-rootfs=$hostfs")
  else
    prepare yes
    # The build stage reuses an addon built from exactly the same inputs (see the Containerfile).
    [[ -d $ROOT/.cache/kafka-addon ]] && args+=(--build-context "kafka-addon-cache=$ROOT/.cache/kafka-addon")
  fi
  local ca=${FERRY_CONTAINER_EXTRA_CA-${NODE_EXTRA_CA_CERTS:-}}
  if [[ -n $ca ]]; then
    [[ -s $ca ]] || die "FERRY_CONTAINER_EXTRA_CA=$ca is not a readable CA bundle"
    args+=(--secret "id=extra-ca,src=$ca")
  fi
  local log=$DIR/build.log started=$SECONDS
  say "building $tag (log: $log)"
  # The Containerfile's cache mounts (addon builds, Node headers, Bun's packages) live in
  # $TMPDIR/buildah-cache: kept under .cache/container with the layers.
  mkdir -p "$DIR/tmp"
  if ! TMPDIR=$DIR/tmp podman_ "${args[@]}" "$ROOT" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "the build failed after $((SECONDS - started)) s; full log: $log"
  fi
  [[ -n $hostfs ]] && rm -rf "$hostfs"
  if [[ -z $prebuilt ]]; then
    # Keep the build stage's last layer under a name, then drop what no name reaches any more:
    # layers of earlier builds go, this build's (the cache of the next) stay.
    local stage
    stage=$(awk '/container-rootfs\.sh dist\/ferry/ { seen = 1 } seen && /^--> [0-9a-f]+$/ { print $2; exit }' "$log")
    [[ -n $stage ]] || die "the build stage's last layer is not in $log: nothing pruned"
    podman_ tag "$stage" localhost/ferry-build-stage:cache
    podman_ image prune --force >/dev/null
  fi
  local size
  size=$(podman_ image inspect --format '{{.Size}}' "$tag")
  say "built $tag: $((size / 1000000)) MB in $((SECONDS - started)) s ($((SECONDS - t0)) s in all)"
  echo "image $tag $size $((SECONDS - started))"
}

case ${1:-} in
  build) shift; build "$@" ;;
  podman) shift; install_tools; write_wrapper; exec podman --root "$STORAGE" --runroot "$RUNROOT" --runtime "$WRAPPER" "$@" ;;
  *) die "usage: scripts/container.sh build [--tag <name>] [--prebuilt <ferry binary>] | podman <args...>" ;;
esac
