# Shared helpers for the service scripts (sourced, not run).
# Layout: downloads under .cache/ (kept between runs), run state under .services/:
#   .services/run/<name>.pid   one per process we started
#   .services/logs/<name>.log  its stdout+stderr
#   .services/env              shell exports the tests read (written by up.sh)

FERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVICES_SRC=$FERRY_ROOT/services
CACHE_DIR=$FERRY_ROOT/.cache
# FERRY_SERVICES_INSTANCE=<name> runs an isolated instance beside the shared one, for tests that
# kill or restart services (tests/faults/): its state goes to .services/<name>/, every port moves
# up by FERRY_SERVICES_PORT_OFFSET (default 1000) and its processes are tagged <name>.<service>,
# so nothing here can ever signal the shared services. Unset: the shared services, as before.
INSTANCE=${FERRY_SERVICES_INSTANCE:-}
if [[ -n $INSTANCE ]]; then
  [[ $INSTANCE =~ ^[a-z][a-z0-9-]{0,19}$ ]] || { echo "services: FERRY_SERVICES_INSTANCE must be a short lower-case name (got '$INSTANCE')" >&2; exit 2; }
  STATE_DIR=$FERRY_ROOT/.services/$INSTANCE
  PORT_OFFSET=${FERRY_SERVICES_PORT_OFFSET:-1000}
  SERVICE_TAG=$INSTANCE.
else
  STATE_DIR=$FERRY_ROOT/.services
  PORT_OFFSET=0
  SERVICE_TAG=
fi
RUN_DIR=$STATE_DIR/run
LOG_DIR=$STATE_DIR/logs
mkdir -p "$CACHE_DIR" "$RUN_DIR" "$LOG_DIR"

say() { echo "services: $*" >&2; }
die() { say "$*"; exit 1; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }

# A zombie still answers kill -0; a process we wait for must really be running.
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Who listens on a port, for the "port taken by someone else" message: often the same service
# started from another checkout, which its command line (classpath, -Dferry.service) shows.
port_owner() {
  local pid
  pid=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [[ -n $pid ]] || { echo "unknown (not visible to ss)"; return; }
  echo "pid $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-300)"
}

# The pid of service $1 when its pid file names a live process that is really ours (the command
# line carries -Dferry.service=<tag><name>, so a recycled pid, or the same service of another
# instance, is never mistaken for it). A pid file that fails the check is stale and removed.
service_pid() {
  local file=$RUN_DIR/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  if [[ $pid =~ ^[0-9]+$ ]] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "-Dferry.service=$SERVICE_TAG$1 "; then
    echo "$pid"
    return 0
  fi
  say "$1: removing stale pid file (pid ${pid:-?} is not a running $1)"
  rm -f "$file"
  return 1
}

# launch NAME CMD...: start CMD detached in its own session (so it outlives the calling shell and
# its process group), output appended to the service log, pid recorded. CMD must contain
# -Dferry.service=$SERVICE_TAG<NAME> for service_pid to recognise it.
launch() {
  local name=$1; shift
  local log=$LOG_DIR/$name.log
  # Logs survive down.sh for post-mortems; keep one older generation once they grow big.
  [[ -f $log && $(stat -c %s "$log") -gt 52428800 ]] && mv -f "$log" "$log.1"
  rm -f "$RUN_DIR/$name.pid"
  echo "=== $(date -u +%FT%TZ) starting $name" >>"$log"
  # The inner shell writes its own pid and then execs, so the pid file names the JVM itself
  # whether or not setsid had to fork. fd 9 is up.sh's lock: a service must not hold it.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN_DIR/$name.pid" "$@" >>"$log" 2>&1 </dev/null 9>&- &
  local i
  for i in {1..50}; do [[ -s $RUN_DIR/$name.pid ]] && return 0; sleep 0.02; done
  die "$name: launcher did not record a pid"
}

# stop_service NAME TIMEOUT_S [SIGNAL]: SIGTERM (or SIGNAL), wait, then SIGKILL.
stop_service() {
  local name=$1 timeout=$2 sig=${3:-TERM} pid i
  pid=$(service_pid "$name") || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    say "$name: still running ${timeout}s after SIG$sig, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do sleep 0.05; done
  fi
  rm -f "$RUN_DIR/$name.pid"
}

show_log() {
  local name=$1 lines=${2:-60}
  say "last $lines lines of $LOG_DIR/$name.log:"
  tail -n "$lines" "$LOG_DIR/$name.log" >&2 2>/dev/null || say "(no log)"
}

# The JDK and Maven are the only things installed system-wide; everything else is downloaded
# into .cache/ by the scripts themselves.
ensure_java_and_maven() {
  command -v java >/dev/null && command -v mvn >/dev/null && return 0
  say "installing maven and openjdk-17-jre-headless from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jre-headless >/dev/null \
    || die "apt-get install maven openjdk-17-jre-headless failed"
}

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }

# find_java MIN: a java binary whose major version is at least MIN: $JAVA_HOME, then the one on
# PATH, then any JDK under /usr/lib/jvm (the image ships Temurin 25 beside Debian's 17).
find_java() {
  local min=$1 candidate v
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java)" /usr/lib/jvm/*/bin/java; do
    [[ -x $candidate ]] || continue
    v=$(java_major "$candidate")
    [[ $v =~ ^[0-9]+$ ]] && ((v >= min)) && { echo "$candidate"; return 0; }
  done
  return 1
}

# mvn_quiet LOGNAME ARGS...: run Maven offline-capable, quiet; on failure show its output.
mvn_quiet() {
  local name=$1; shift
  local out=$LOG_DIR/$name.log
  if ! mvn -q -B -Dmaven.repo.local="$CACHE_DIR/m2" "$@" >"$out" 2>&1; then
    show_log "$name" 60
    return 1
  fi
}
