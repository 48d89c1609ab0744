#!/usr/bin/env bash
# The machine's PostgreSQL on 127.0.0.1:5432 (trust auth; role postgres, superuser).
#
#   postgres.sh ensure            start the Debian cluster if 127.0.0.1:5432 does not answer
#   postgres.sh create-db <name>  create a database (fails if it exists)
#   postgres.sh drop-db <name>    drop a database if it exists, disconnecting its sessions
#   postgres.sh stop              stop the cluster, only if ensure started it
#   postgres.sh status            exit 0 if it answers
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
PORT=${FERRY_POSTGRES_PORT:-5432}
CLUSTER=${FERRY_POSTGRES_CLUSTER:-main}
PG_USER=postgres
URL=postgres://$PG_USER@$HOST:$PORT/postgres
START_TIMEOUT_S=${FERRY_POSTGRES_START_TIMEOUT_S:-60}
# Marker: the cluster was started by us, so down.sh may stop it. A cluster that was already
# running belongs to the machine and is left alone.
STARTED_MARKER=$RUN_DIR/postgres.started-by-ferry

answers() { pg_isready -q -h "$HOST" -p "$PORT" -t 2; }

cluster_version() {
  local v
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [[ -n $v ]] || die "postgres: no cluster under /etc/postgresql (is postgresql installed?)"
  echo "$v"
}

ensure() {
  command -v pg_isready >/dev/null || die "postgres: pg_isready not found (install postgresql-client)"
  answers && return 0
  local v t0
  v=$(cluster_version)
  t0=$(now_ms)
  say "postgres: $HOST:$PORT does not answer; starting cluster $v/$CLUSTER"
  pg_ctlcluster --skip-systemctl-redirect "$v" "$CLUSTER" start >"$LOG_DIR/postgres.log" 2>&1 || true
  until answers; do
    if (($(now_ms) - t0 > START_TIMEOUT_S * 1000)); then
      say "postgres: not answering after ${START_TIMEOUT_S}s"
      show_log postgres 60
      tail -n 60 "/var/log/postgresql/postgresql-$v-$CLUSTER.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
  touch "$STARTED_MARKER"
  say "postgres: ready in $(elapsed "$t0")"
}

psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$PG_USER" -d postgres "$@"; }

valid_name() { [[ ${1:-} =~ ^[A-Za-z0-9_-]{1,63}$ ]] || die "postgres: invalid database name '${1:-}'"; }

case ${1:-} in
  ensure) ensure ;;
  create-db) valid_name "${2:-}"; psql_admin -c "create database \"$2\"" ;;
  drop-db) valid_name "${2:-}"; psql_admin -c "drop database if exists \"$2\" with (force)" ;;
  stop)
    if [[ -f $STARTED_MARKER ]]; then
      pg_ctlcluster --skip-systemctl-redirect "$(cluster_version)" "$CLUSTER" stop
      rm -f "$STARTED_MARKER"
    fi ;;
  status) answers && echo "postgres running url=$URL" || { echo "postgres stopped url=$URL"; exit 1; } ;;
  url) echo "$URL" ;;
  *) sed -n '2,9s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
