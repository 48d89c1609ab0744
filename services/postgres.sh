#!/usr/bin/env bash
# The machine's PostgreSQL on 127.0.0.1:5432 (trust auth; role postgres, superuser).
#
#   postgres.sh ensure            start the Debian cluster if 127.0.0.1:5432 does not answer
#   postgres.sh create-db <name>  create a database (fails if it exists)
#   postgres.sh drop-db <name>    drop a database if it exists, disconnecting its sessions
#   postgres.sh stop              stop the cluster, only if ensure started it
#   postgres.sh status            exit 0 if it answers
#
# With FERRY_SERVICES_INSTANCE=<name>: a throwaway cluster of our own instead (initdb into
# .services/<name>/pg, port 5432 + offset, trust auth), which the fault tests may crash:
#   postgres.sh restart [fast|immediate]   stop (immediate: like a crash) and start again
#   postgres.sh clean                      stop it and delete its data
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
PORT=${FERRY_POSTGRES_PORT:-$((5432 + PORT_OFFSET))}
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

# --- an instance of our own (FERRY_SERVICES_INSTANCE): never the machine's cluster ---
PG_DIR=$STATE_DIR/pg
as_postgres() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin() { echo "/usr/lib/postgresql/$(cluster_version)/bin/$1"; }
pg_ctl_own() { as_postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -l "$PG_DIR/server.log" "$@"; }

ensure_own() {
  answers && return 0
  local t0; t0=$(now_ms)
  if [[ ! -f $PG_DIR/data/PG_VERSION ]]; then
    mkdir -p "$PG_DIR"
    ((EUID == 0)) && chown postgres: "$PG_DIR"
    as_postgres "$(pg_bin initdb)" -D "$PG_DIR/data" -U "$PG_USER" -A trust -E UTF8 --no-sync >"$LOG_DIR/postgres-initdb.log" 2>&1 \
      || { show_log postgres-initdb 30; die "postgres: initdb into $PG_DIR/data failed"; }
  fi
  # Small and local: its own socket directory, a port of its own, little shared memory. 9>&-: the
  # server must not inherit up.sh's lock (it would hold it as long as it runs).
  pg_ctl_own -w -t "$START_TIMEOUT_S" -o "-p $PORT -c listen_addresses=$HOST -k $PG_DIR -c shared_buffers=16MB -c max_connections=60" start >/dev/null 9>&- \
    || { tail -n 40 "$PG_DIR/server.log" >&2; die "postgres: the $INSTANCE cluster did not start"; }
  say "postgres: $INSTANCE cluster on $HOST:$PORT ready in $(elapsed "$t0")"
}

stop_own() { [[ -f $PG_DIR/data/postmaster.pid ]] && pg_ctl_own -w -m "${1:-fast}" stop >/dev/null; return 0; }

own_only() { [[ -n $INSTANCE ]] || die "postgres: '$1' only works on an instance of our own (FERRY_SERVICES_INSTANCE): the machine's cluster is shared"; }

psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PORT" -U "$PG_USER" -d postgres "$@"; }

valid_name() { [[ ${1:-} =~ ^[A-Za-z0-9_-]{1,63}$ ]] || die "postgres: invalid database name '${1:-}'"; }

case ${1:-} in
  ensure) if [[ -n $INSTANCE ]]; then ensure_own; else ensure; fi ;;
  create-db) valid_name "${2:-}"; psql_admin -c "create database \"$2\"" ;;
  drop-db) valid_name "${2:-}"; psql_admin -c "drop database if exists \"$2\" with (force)" ;;
  stop)
    if [[ -n $INSTANCE ]]; then
      stop_own fast
    elif [[ -f $STARTED_MARKER ]]; then
      pg_ctlcluster --skip-systemctl-redirect "$(cluster_version)" "$CLUSTER" stop
      rm -f "$STARTED_MARKER"
    fi ;;
  status) answers && echo "postgres running url=$URL" || { echo "postgres stopped url=$URL"; exit 1; } ;;
  url) echo "$URL" ;;
  restart)
    own_only restart
    [[ ${2:-fast} =~ ^(fast|immediate)$ ]] || die "postgres: restart mode must be fast or immediate"
    stop_own "${2:-fast}"
    ensure_own ;;
  clean)
    own_only clean
    stop_own fast
    # Keep the server's log for a post-mortem; the data goes.
    [[ -f $PG_DIR/server.log ]] && cp "$PG_DIR/server.log" "$LOG_DIR/postgres-server.log"
    rm -rf "$PG_DIR" ;;
  *) sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
