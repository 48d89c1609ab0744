#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, starts the real services
# (3-node Kafka, schema registry, PostgreSQL), builds dist/ferry, runs `bun test` against a
# database of its own, then stops what it started. Extra arguments go to `bun test`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$SECONDS

source scripts/bootstrap.sh
# Debian packages the tests run for real: Chromium (the admin page, in a headless browser driven by
# playwright-core) and PgBouncer (tests/e2e/pooler.test.ts, Ferry behind a pooler in each mode).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v pgbouncer >/dev/null || [[ -x /usr/sbin/pgbouncer ]] || missing+=(pgbouncer)
if ((${#missing[@]} > 0)); then
  echo "test: installing Debian's ${missing[*]} for the tests" >&2
  if [[ $(id -u) -ne 0 ]]; then echo "test: not root; run: sudo apt-get install -y ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Fails loudly when a Bun upgrade changes which symbols the Kafka addon's shim must provide.
bash scripts/check-kafka-addon-symbols.sh >&2
echo "test: tools ready in $((SECONDS - t0)) s" >&2
# tests/e2e/container.test.ts builds the container image. Start that build now, in the background at
# the lowest CPU and I/O priority, so that it overlaps the services' start and the first tests; the
# test's own build then waits for it (a lock) and finds its layers. On a fresh machine it takes many
# minutes (base image, toolchain, node_modules, the Kafka addon unless the host's build matches);
# .cache/container keeps the layers for the next run. FERRY_TEST_CONTAINER_PREWARM=0 turns it off.
# Only for FERRY_TEST_CONTAINER_BUILD=full: by default the test builds the runtime stage over this
# run's dist/ferry, which takes seconds.
if [[ "${FERRY_TEST_CONTAINER_BUILD:-}" == full && "${FERRY_TEST_CONTAINER_PREWARM:-1}" == 1 ]]; then
  mkdir -p .cache/container
  nice -n 19 ionice -c 3 bash scripts/container.sh build --tag localhost/ferry:test >.cache/container/prewarm.log 2>&1 &
fi

# Services that were already running (a developer's session) are left running afterwards.
was_running=$(services/up.sh --status 2>/dev/null || true)
services/up.sh
# FERRY_SERVICES_INSTANCE=<name> (with FERRY_SERVICES_PORT_OFFSET): a run of its own beside another
# checkout's running services (services/lib.sh); its exports are in .services/<name>/env.
source ".services/${FERRY_SERVICES_INSTANCE:+$FERRY_SERVICES_INSTANCE/}env"
echo "test: services ready in $((SECONDS - t0)) s" >&2

DB="ferry_test_$(date +%Y%m%d%H%M%S)_$$"
services/postgres.sh create-db "$DB"
export FERRY_TEST_DATABASE_URL="${FERRY_TEST_DATABASE_URL%/*}/$DB"

cleanup() {
  code=$?
  services/postgres.sh drop-db "$DB" >/dev/null 2>&1 || true
  if [[ "${FERRY_KEEP_SERVICES:-0}" != "1" && "$was_running" != *running* ]]; then services/down.sh >/dev/null 2>&1 || true; fi
  echo "test: finished in $((SECONDS - t0)) s with exit code $code" >&2
  exit $code
}
trap cleanup EXIT

bun run build >&2
LOG=$(mktemp)
# A crash of Bun itself (killed by a signal, not a failing test) may print nothing of its own: keep
# its core dump where the system allows it, and print the crashing thread's native stack below.
ulimit -c unlimited 2>/dev/null || true
touch "$LOG.start"
set +e
bun test --timeout 300000 "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
if ((status > 128)); then bash scripts/crash-report.sh "$status" "$LOG.start" || true; fi
rm -f "$LOG.start"
# A plain closing line any CI reader understands.
passed=$(grep -aEo '^ *[0-9]+ pass$' "$LOG" | tail -1 | grep -aEo '[0-9]+' || echo 0)
failed=$(grep -aEo '^ *[0-9]+ fail$' "$LOG" | tail -1 | grep -aEo '[0-9]+' || echo 0)
# CI shows the end of the output: repeat each failure's own output (bun prints it before the
# "(fail)" line, far up in a long run) so the cause is in that end, not only the test's name.
if [[ "$failed" != 0 ]]; then
  echo "test: what each failing test printed (at most 120 lines each):"
  awk '/^\(pass\)|^\(skip\)|^\(todo\)|^[^ ]+\.test\.ts:$/ { n = 0; next }
       /^\(fail\)/ { s = (n > 120 ? n - 120 : 0); for (i = s; i < n; i++) print buf[i]; print; print ""; n = 0; next }
       { buf[n++] = $0 }' "$LOG"
fi
rm -f "$LOG"
echo "$passed passed, $failed failed"
exit "$status"
