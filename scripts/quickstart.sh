#!/usr/bin/env bash
# The README's first Quickstart command. On a fresh clone with Node.js (npm): installs what is
# missing (pinned Bun, node_modules, the Kafka addon built for Bun; Debian build packages when
# run as root), builds dist/ferry when the sources are newer, then runs
#   dist/ferry dev --handlers ./handlers
# the real engine on an embedded Kafka (librdkafka's mock cluster), PostgreSQL (PGlite, data in
# ./.ferry-dev) and schema registry. No Kafka, PostgreSQL, registry or Java needed. Ctrl-C stops.
# Extra arguments go to `ferry dev` (see dist/ferry dev --help); so do FERRY_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
source scripts/bootstrap.sh
# Rebuild only when something the binary is made of changed (a second run starts at once).
if [[ ! -x dist/ferry ]] || [[ -n $(find runtime package.json bun.lock scripts/build.ts -newer dist/ferry -print -quit) ]]; then
  echo "quickstart: building dist/ferry…" >&2
  bun run build >&2
fi
echo "quickstart: ready in $((SECONDS - t0)) s. In another shell, send the demo stream:  dist/ferry produce --demo" >&2
exec dist/ferry dev --handlers ./handlers "$@"
