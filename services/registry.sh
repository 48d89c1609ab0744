#!/usr/bin/env bash
# Apicurio Registry (Confluent-compatible API under /apis/ccompat/v7) on 127.0.0.1:18081,
# in-memory storage: every start is an empty registry.
#
#   registry.sh fetch    download and unpack the app into .cache/apicurio-<v> (once)
#   registry.sh start    start unless running; wait until GET .../subjects answers 200
#   registry.sh stop     SIGTERM (SIGKILL after a timeout)
#   registry.sh status   exit 0 only if running and answering
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 3.3.x needs Java 21+ (the image's Temurin 25 serves). 3.0.9, the Java 17 line, cannot be
# resolved from Maven Central: its parent POM io.apicurio:apicurio-registry:3.0.9 is not there.
APICURIO_VERSION=${FERRY_APICURIO_VERSION:-3.3.3}
APICURIO_MIN_JAVA=21
APICURIO_HOME=$CACHE_DIR/apicurio-$APICURIO_VERSION
PORT=$((18081 + PORT_OFFSET))
MANAGEMENT_PORT=$((18082 + PORT_OFFSET))
URL=http://127.0.0.1:$PORT/apis/ccompat/v7
START_TIMEOUT_S=${FERRY_REGISTRY_START_TIMEOUT_S:-120}
NAME=registry

fetch() {
  [[ -f $APICURIO_HOME/.complete ]] && return 0
  ensure_java_and_maven
  local t0 tarball artifact=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
  t0=$(now_ms)
  say "registry: fetching $artifact from Maven Central"
  mvn_quiet fetch-registry org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    -Dartifact="$artifact" -Dtransitive=false || die "registry: could not fetch $artifact"
  tarball=$CACHE_DIR/m2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz
  rm -rf "$APICURIO_HOME"
  mkdir -p "$APICURIO_HOME"
  tar -xzf "$tarball" -C "$APICURIO_HOME" || die "registry: could not unpack $tarball"
  [[ -f $APICURIO_HOME/quarkus-run.jar ]] || die "registry: $tarball has no quarkus-run.jar"
  touch "$APICURIO_HOME/.complete"
  say "registry: Apicurio $APICURIO_VERSION ready in $(elapsed "$t0")"
}

answers() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/subjects") == 200 ]]; }

start() {
  local pid java t0
  if pid=$(service_pid "$NAME"); then
    answers && { say "registry: already running (pid $pid)"; return 0; }
  else
    fetch
    for port in $PORT $MANAGEMENT_PORT; do
      port_open 127.0.0.1 "$port" && die "registry: port $port is taken by another process: $(port_owner "$port")"
    done
    java=$(find_java "$APICURIO_MIN_JAVA") || die "registry: Apicurio $APICURIO_VERSION needs Java $APICURIO_MIN_JAVA+; none found (set JAVA_HOME)"
    # Confluent's registry checks BACKWARD compatibility unless told otherwise; Apicurio has no
    # global rule by default (GET /config says NONE). The global rule makes it behave like the
    # registry our users run. Deletion is enabled so tests can clean up subjects.
    launch "$NAME" "$java" -Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError \
      "-Dferry.service=$SERVICE_TAG$NAME" \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port=$PORT \
      -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=$MANAGEMENT_PORT \
      -Dquarkus.http.access-log.enabled=false \
      -Dapicurio.rules.global.compatibility=BACKWARD \
      -Dapicurio.rest.deletion.group.enabled=true \
      -Dapicurio.rest.deletion.artifact.enabled=true \
      -Dapicurio.rest.deletion.artifact-version.enabled=true \
      -Dapicurio.storage.snapshot.location="$STATE_DIR/registry" \
      -Dapicurio.import.work-dir="$STATE_DIR/registry" \
      -jar "$APICURIO_HOME/quarkus-run.jar"
  fi
  t0=$(now_ms)
  until answers; do
    service_pid "$NAME" >/dev/null || { say "registry: exited during start"; show_log "$NAME" 60; return 1; }
    if (($(now_ms) - t0 > START_TIMEOUT_S * 1000)); then
      say "registry: $URL/subjects did not answer 200 within ${START_TIMEOUT_S}s"
      show_log "$NAME" 60
      return 1
    fi
    sleep 0.2
  done
  say "registry: ready at $URL in $(elapsed "$t0")"
}

status() {
  local pid
  if pid=$(service_pid "$NAME"); then
    answers && { echo "registry running pid=$pid url=$URL"; return 0; }
    echo "registry starting pid=$pid url=$URL"
  else
    echo "registry stopped url=$URL"
  fi
  return 1
}

case ${1:-} in
  fetch) fetch ;;
  start) mkdir -p "$STATE_DIR/registry"; start ;;
  stop) stop_service "$NAME" 15 ;;
  status) status ;;
  url) echo "$URL" ;;
  *) sed -n '2,9s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
