#!/usr/bin/env bash
# Checks, without running Kafka, that the Kafka addon built for Bun can resolve every
# symbol it imports, and that Bun's exports still match what the compatibility shim
# (runtime/kafka/bun-compat/) assumes. Bun loads addons lazily: a missing function
# would only fail (or panic, for libuv stubs) when first called, deep inside a test
# or in production. Run by CI and by scripts/build-kafka-addon.sh; fails loudly when:
#   1. the addon imports a symbol that neither Bun nor its shared libraries define;
#   2. it imports a libuv function that Bun exports only as a panicking stub;
#   3. Bun now exports a V8/Node symbol the shim defines (delete it from bunshim.cc);
#   4. Bun now implements a libuv function the shim wraps (drop the --wrap);
#   5. a wrapped function is still imported directly (the --wrap did not apply).
# Usage: scripts/check-kafka-addon-symbols.sh [addon.node ...]   (x86-64 Linux)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GYPI=$ROOT/runtime/kafka/bun-compat/shim.gypi
command -v bun >/dev/null || PATH=$ROOT/.cache/tools/node_modules/.bin:$PATH
BUN=$(bun -e 'console.log(process.execPath)')
BUN_VERSION=$(bun --version)
(($#)) || set -- "$ROOT/node_modules/@confluentinc/kafka-javascript/build/Release/confluent-kafka-javascript.node"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
problem() { echo "FAIL: $*" >&2; fail=1; }

# Bun's dynamic exports, unversioned ("name@@BUN_1.2" -> "name").
nm -D --defined-only "$BUN" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3, $1 }' | sort -u >"$tmp/bun-addrs"
cut -d' ' -f1 "$tmp/bun-addrs" | sort -u >"$tmp/bun-exports"
[[ -s $tmp/bun-exports ]] || { echo "FAIL: no dynamic exports found in $BUN" >&2; exit 1; }

# A libuv export is a stub when its first call never returns: Bun's stubs are
# `mov $name,%edi; call <panic>; int3`, real functions continue after their calls.
is_stub() {
  local addr
  addr=$(awk -v f="$1" '$1 == f { print $2; exit }' "$tmp/bun-addrs")
  [[ -n $addr ]] || return 1
  objdump -d --no-show-raw-insn --start-address=0x"$addr" --stop-address=$((0x$addr + 64)) "$BUN" \
    | awk '$2 ~ /^call/ { getline; stub = ($2 == "int3"); done = 1; exit }
           $2 ~ /^ret/ { done = 1; exit }
           END { exit (done && stub) ? 0 : 1 }'
}

mapfile -t WRAPPED < <(grep -o "\-\-wrap=[A-Za-z0-9_]*" "$GYPI" | cut -d= -f2)
((${#WRAPPED[@]})) || { echo "FAIL: no --wrap flags found in $GYPI" >&2; exit 1; }

for addon in "$@"; do
  [[ -f $addon ]] || { problem "$addon does not exist (run scripts/build-kafka-addon.sh)"; continue; }
  name=$(basename "$addon")
  # Strong undefined dynamic symbols (weak ones may stay unresolved by design).
  nm -D --undefined-only "$addon" | awk '$1 == "U" { print $2 }' | sort -u >"$tmp/imports"
  # What the addon's own shared libraries (libc, libstdc++, ...) cannot resolve:
  # everything else must come from the Bun executable.
  { ldd -r "$addon" 2>&1 || true; } | sed -n 's/^undefined symbol: \([^[:space:]]*\).*/\1/p' | sort -u >"$tmp/from-host"
  comm -23 "$tmp/from-host" "$tmp/bun-exports" >"$tmp/missing"
  while read -r s; do problem "$name imports $(c++filt "$s") which bun $BUN_VERSION does not export"; done <"$tmp/missing"

  uv_count=0
  while read -r s; do
    uv_count=$((uv_count + 1))
    if is_stub "$s"; then problem "$name calls $s, a panicking stub in bun $BUN_VERSION: wrap it in uvshim.cc"; fi
  done < <(grep '^uv_' "$tmp/from-host" || true)

  for w in "${WRAPPED[@]}"; do
    if [[ $w == uv_* ]] && grep -qx "$w" "$tmp/imports"; then problem "$name still imports $w: -Wl,--wrap=$w did not apply"; fi
  done

  # V8/Node definitions inside the addon come from bunshim.cc (NAN itself is header-only).
  nm -D --defined-only "$addon" | awk '$2 == "T" { print $3 }' | grep -E '^_ZN?K?(2v8|4node)' | sort -u >"$tmp/shimmed" || true
  while read -r s; do
    if grep -qx "$s" "$tmp/bun-exports"; then problem "bun $BUN_VERSION now exports $(c++filt "$s"): delete it from bunshim.cc"; fi
  done <"$tmp/shimmed"

  echo "$name: $(wc -l <"$tmp/imports") imports, $(wc -l <"$tmp/from-host") from bun ($uv_count libuv), $(wc -l <"$tmp/missing") missing; shim defines $(wc -l <"$tmp/shimmed") V8/Node symbols"
done

# The wrapped libuv functions must still be stubs: if Bun implements one, use Bun's.
for w in "${WRAPPED[@]}"; do
  [[ $w == uv_* ]] || continue
  if ! grep -qx "$w" "$tmp/bun-exports"; then problem "bun $BUN_VERSION no longer exports $w: review the --wrap in shim.gypi"
  elif ! is_stub "$w"; then problem "bun $BUN_VERSION implements $w now: drop its --wrap from shim.gypi and its __wrap_ from uvshim.cc"; fi
done

if ((fail)); then echo "kafka addon symbol check FAILED for bun $BUN_VERSION" >&2; exit 1; fi
echo "kafka addon symbol check OK for bun $BUN_VERSION"
