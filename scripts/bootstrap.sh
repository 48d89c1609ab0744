#!/usr/bin/env bash
# Installs what Ferry needs to build, from the registries this machine reaches:
# Debian packages (the toolchain for the native Kafka addon; services/up.sh installs Java itself),
# Bun at the pinned version (npm registry), node_modules from the lockfile, and the
# Kafka addon built for Bun. Idempotent: a second run only checks.
# Usage: source scripts/bootstrap.sh   (exports PATH with the pinned bun)
set -euo pipefail
FERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUN_VERSION=1.4.5
TOOLS=$FERRY_ROOT/.cache/tools

need_apt=()
for pkg in build-essential python3 pkg-config libssl-dev zlib1g-dev libzstd-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: not root; run: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ "$("$TOOLS/node_modules/.bin/bun" --version 2>/dev/null)" != "$BUN_VERSION" ]]; then
  echo "bootstrap: installing bun $BUN_VERSION from the npm registry" >&2
  mkdir -p "$TOOLS"
  npm install --no-save --no-package-lock --prefix "$TOOLS" "bun@$BUN_VERSION" >/dev/null
fi
export PATH="$TOOLS/node_modules/.bin:$PATH"

(cd "$FERRY_ROOT" && bun install --frozen-lockfile >/dev/null)
bash "$FERRY_ROOT/scripts/build-kafka-addon.sh"
