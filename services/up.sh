#!/usr/bin/env bash
# Start the real services the tests use, each only if it is not already running, and write
# .services/env (shell exports: FERRY_TEST_*). A second call while they run is a quick no-op.
#
#   services/up.sh [kafka] [registry] [postgres] [postgres-tls]     (default: all four)
#   services/up.sh --status   start nothing; print one word on stdout for the services up.sh owns
#                             (kafka, registry): running (all), partial (some) or stopped (none);
#                             details on stderr; exit 0 only for running
#
# On failure the failing service's log tail is printed and the exit status is non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${1:-} == --status ]]; then
  up=0
  for s in kafka registry postgres postgres-tls; do
    line=$("$SERVICES_SRC/$s.sh" status 2>/dev/null | tr '\n' ';') && { [[ $s == postgres* ]] || up=$((up + 1)); }
    echo "$s: $line" >&2
  done
  case $up in 2) echo running ;; 0) echo stopped; exit 1 ;; *) echo partial; exit 1 ;; esac
  exit 0
fi

wanted=("$@")
((${#wanted[@]})) || wanted=(postgres kafka registry postgres-tls)
for s in "${wanted[@]}"; do
  [[ $s =~ ^(kafka|registry|postgres|postgres-tls)$ ]] || die "up: unknown service '$s' (kafka, registry, postgres, postgres-tls)"
done
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

# One up/down at a time: two test runs starting together must not launch two clusters.
exec 9>"$STATE_DIR/lock"
flock 9

t0=$(now_ms)
want kafka || want registry && ensure_java_and_maven
want postgres && "$SERVICES_SRC/postgres.sh" ensure

# Downloads first and one after the other: both use the same Maven repository under .cache/m2,
# which Maven 3.8 does not guard against concurrent writers.
want kafka && "$SERVICES_SRC/kafka.sh" fetch
want registry && "$SERVICES_SRC/registry.sh" fetch

# The certificates first: the brokers and the TLS PostgreSQL read them, and start together.
want kafka || want postgres-tls && "$SERVICES_SRC/tls.sh" ensure >/dev/null

# The three Kafka JVMs and Apicurio start together: measured faster than one after the other
# even on 2 cores (services/README.md). The TLS PostgreSQL (~1 s warm) starts beside them.
pids=()
want kafka && { "$SERVICES_SRC/kafka.sh" start & pids+=("$!:kafka"); }
want registry && { "$SERVICES_SRC/registry.sh" start & pids+=("$!:registry"); }
want postgres-tls && { "$SERVICES_SRC/postgres-tls.sh" ensure & pids+=("$!:postgres-tls"); }
failed=()
for p in "${pids[@]}"; do wait "${p%%:*}" || failed+=("${p#*:}"); done
((${#failed[@]} == 0)) || die "up: failed to start: ${failed[*]} (logs in $LOG_DIR)"

"$SERVICES_SRC/env.sh" >"$STATE_DIR/env.tmp" && mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
say "up: ${wanted[*]} running ($(elapsed "$t0")); exports in $STATE_DIR/env"
