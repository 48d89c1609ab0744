#!/usr/bin/env bash
# Stop what up.sh started (SIGTERM, then SIGKILL after a timeout) and delete the Kafka data, so
# the next up.sh starts a fresh cluster. PostgreSQL is stopped only if up.sh had to start it.
#
#   services/down.sh [kafka] [registry] [postgres]   (default: all three)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wanted=("$@")
((${#wanted[@]})) || wanted=(postgres kafka registry)
want() { [[ " ${wanted[*]} " == *" $1 "* ]]; }

exec 9>"$STATE_DIR/lock"
flock 9

t0=$(now_ms)
pids=()
want registry && { "$SERVICES_SRC/registry.sh" stop & pids+=("$!"); }
# The Kafka data is deleted right after, so a node slow to finish its controlled shutdown is not
# worth waiting 20 s for.
want kafka && { FERRY_KAFKA_STOP_TIMEOUT_S=${FERRY_KAFKA_STOP_TIMEOUT_S:-10} "$SERVICES_SRC/kafka.sh" stop & pids+=("$!"); }
for p in "${pids[@]}"; do wait "$p"; done
want kafka && "$SERVICES_SRC/kafka.sh" clean
want postgres && "$SERVICES_SRC/postgres.sh" stop

"$SERVICES_SRC/env.sh" >"$STATE_DIR/env.tmp" && mv "$STATE_DIR/env.tmp" "$STATE_DIR/env"
say "down: ${wanted[*]} stopped ($(elapsed "$t0"))"
