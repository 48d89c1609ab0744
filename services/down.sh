#!/usr/bin/env bash
# Stop what up.sh started (SIGTERM, then SIGKILL after a timeout) and delete the Kafka data, so
# the next up.sh starts a fresh cluster. PostgreSQL is stopped only if up.sh had to start it.
#
#   services/down.sh [kafka] [registry] [postgres] [postgres-tls]   (default: all four)
#
# The TLS PostgreSQL keeps its data (a throwaway cluster of ours: the next start takes ~1 s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wanted=("$@")
((${#wanted[@]})) || wanted=(postgres kafka registry postgres-tls)
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

exec 9>"$STATE_DIR/lock"
flock 9

t0=$(now_ms)
pids=()
want registry && { "$SERVICES_SRC/registry.sh" stop & pids+=("$!"); }
want postgres-tls && { "$SERVICES_SRC/postgres-tls.sh" stop & pids+=("$!"); }
# The Kafka data is deleted right after, so a node slow to finish its controlled shutdown is not
# worth waiting 20 s for.
want kafka && { FERRY_KAFKA_STOP_TIMEOUT_S=${FERRY_KAFKA_STOP_TIMEOUT_S:-10} "$SERVICES_SRC/kafka.sh" stop & pids+=("$!"); }
for p in "${pids[@]}"; do wait "$p"; done
want kafka && "$SERVICES_SRC/kafka.sh" clean
want postgres && "$SERVICES_SRC/postgres.sh" stop

"$SERVICES_SRC/env.sh" >"$STATE_DIR/env.tmp" && mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
say "down: ${wanted[*]} stopped ($(elapsed "$t0"))"
