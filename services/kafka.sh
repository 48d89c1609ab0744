#!/usr/bin/env bash
# A 3-node Apache Kafka cluster (KRaft, every node broker+controller) on 127.0.0.1 for the tests.
#
#   kafka.sh fetch               resolve the jars into .cache/kafka-<v>/lib (once)
#   kafka.sh start               start every node that is not running; wait until all 3 serve;
#                                restart, one at a time, running nodes whose config changed
#   kafka.sh stop                SIGTERM every node (SIGKILL after a timeout)
#   kafka.sh kill <n>            SIGKILL node n (fault tests)
#   kafka.sh start-node <n>      start node n again and wait until it is back in the cluster
#   kafka.sh stop-node <n>       graceful stop of node n
#   kafka.sh status              one line per node; exit 0 only if all 3 run
#   kafka.sh clean               delete the data dirs (nodes must be stopped)
#   kafka.sh tool <Main> args... run a Kafka CLI tool, e.g. org.apache.kafka.tools.TopicCommand
#   kafka.sh client-config <user>  path of a client properties file for a SASL user
#
# Nodes 1, 2, 3 listen on PLAINTEXT 19092/19093/19094, SASL_PLAINTEXT 29092/29093/29094,
# SASL_SSL (SCRAM-SHA-512/256) 19292/19293/19294, SSL with client certificates (mutual TLS)
# 19392/19393/19394 and CONTROLLER 19192/19193/19194, all on 127.0.0.1 (FERRY_SERVICES_INSTANCE:
# + its port offset). The certificates come from services/tls.sh.
# FERRY_KAFKA_CONTROLLERS (default "1 2 3") names the nodes that form the KRaft quorum; the others
# are brokers only. It is fixed when the cluster is formatted (kept in the state dir until clean).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SERVICES_SRC/kafka/pom.xml")
KAFKA_LIB=$CACHE_DIR/kafka-$KAFKA_VERSION/lib
KAFKA_DIR=$STATE_DIR/kafka
NODES=(1 2 3)
START_TIMEOUT_S=${FERRY_KAFKA_START_TIMEOUT_S:-180}
STOP_TIMEOUT_S=${FERRY_KAFKA_STOP_TIMEOUT_S:-20}
SASL_USERS=(admin alice bob carol)
# SCRAM credentials (SASL_SSL): the same users and passwords as PLAIN, stored in the cluster metadata.
SCRAM_MECHANISMS=(SCRAM-SHA-512 SCRAM-SHA-256)
# The mutual-TLS client's certificate (CN=ferry-client) maps to this principal, a super user.
MTLS_PRINCIPAL=User:ferry-client
KEYSTORE_PASSWORD=ferry-test

client_port() { echo $((19091 + PORT_OFFSET + $1)); }
sasl_port() { echo $((29091 + PORT_OFFSET + $1)); }
controller_port() { echo $((19191 + PORT_OFFSET + $1)); }
sasl_ssl_port() { echo $((19291 + PORT_OFFSET + $1)); }
ssl_port() { echo $((19391 + PORT_OFFSET + $1)); }
# The quorum chosen at the first start. The fault tests use a single voter (node 1): with every
# node a voter, killing 2 of 3 also loses the quorum, so the ISRs never shrink and producers time
# out instead of failing with NOT_ENOUGH_REPLICAS as a cluster with dedicated controllers does.
controllers() {
  local file=$KAFKA_DIR/controllers
  [[ -s $file ]] && { cat "$file"; return; }
  [[ ${FERRY_KAFKA_CONTROLLERS:-1 2 3} =~ ^[123]( [123]){0,2}$ ]] || die "kafka: FERRY_KAFKA_CONTROLLERS must list nodes 1-3 (got '$FERRY_KAFKA_CONTROLLERS')"
  echo "${FERRY_KAFKA_CONTROLLERS:-1 2 3}"
}
# Only a start fixes the quorum: a status or tool call must not record a default.
remember_controllers() { [[ -s $KAFKA_DIR/controllers ]] || { mkdir -p "$KAFKA_DIR"; controllers >"$KAFKA_DIR/controllers.tmp" && mv "$KAFKA_DIR/controllers.tmp" "$KAFKA_DIR/controllers"; }; }
is_controller() { [[ " $(controllers) " == *" $1 "* ]]; }
brokers() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
sasl_brokers() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(sasl_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
sasl_ssl_brokers() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(sasl_ssl_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
ssl_brokers() { local n out=(); for n in "${NODES[@]}"; do out+=("127.0.0.1:$(ssl_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
voters() { local n out=(); for n in $(controllers); do out+=("$n@127.0.0.1:$(controller_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
check_node() { [[ ${1:-} =~ ^[123]$ ]] || die "kafka: node must be 1, 2 or 3 (got '${1:-}')"; }

# Small heaps and C1-only JIT: the JVMs start (and run the short test workloads) with far less CPU
# on 2 cores. See services/README.md for the measurements. FERRY_KAFKA_JVM_OPTS replaces the tuning.
read -ra JVM_TUNING <<<"${FERRY_KAFKA_JVM_OPTS:--Xms128m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
JAVA_OPTS=("${JVM_TUNING[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$SERVICES_SRC/kafka/log4j2.xml")
TOOL_JAVA_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  -Dlog4j2.configurationFile="$SERVICES_SRC/kafka/tools-log4j2.xml")

fetch() {
  local stamp=$KAFKA_LIB/.complete sum
  sum=$(sha256sum "$SERVICES_SRC/kafka/pom.xml" | cut -d' ' -f1)
  [[ -f $stamp && $(<"$stamp") == "$sum" ]] && return 0
  ensure_java_and_maven
  local t0; t0=$(now_ms)
  say "kafka: resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mvn_quiet fetch-kafka -f "$SERVICES_SRC/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" || die "kafka: could not resolve the jars"
  echo "$sum" >"$stamp"
  say "kafka: jars ready in $(elapsed "$t0")"
}

run_tool() {
  fetch
  local java; java=$(find_java 17) || die "kafka: no Java 17+ found"
  exec "$java" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" "$@"
}

jaas_users() {
  local u line="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\""
  for u in "${SASL_USERS[@]}"; do line+=" user_$u=\"$u-secret\""; done
  echo "$line;"
}

write_config() {
  local n=$1 dir=$KAFKA_DIR/node-$1 roles=broker controller_listener= tls listeners
  is_controller "$n" && { roles=broker,controller; controller_listener=,CONTROLLER://127.0.0.1:$(controller_port "$n"); }
  tls=$("$SERVICES_SRC/tls.sh" dir)
  listeners="PLAINTEXT://127.0.0.1:$(client_port "$n"),SASL_PLAINTEXT://127.0.0.1:$(sasl_port "$n"),SASL_SSL://127.0.0.1:$(sasl_ssl_port "$n"),SSL://127.0.0.1:$(ssl_port "$n")"
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<EOF
# Generated by services/kafka.sh; edit the script, not this file.
process.roles=$roles
node.id=$n
controller.quorum.voters=$(voters)
controller.listener.names=CONTROLLER
listeners=$listeners$controller_listener
advertised.listeners=$listeners
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# Authorization: PLAINTEXT clients (and brokers, controllers) are User:ANONYMOUS, a super user, so
# the engine tests are unrestricted; SASL clients other than admin are subject to ACLs.
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$(jaas_users)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS;$MTLS_PRINCIPAL

# TLS (services/tls.sh): SASL_SSL authenticates with SCRAM (credentials added at format time),
# SSL with a client certificate signed by the test CA, its CN the principal's name.
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/server.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
listener.name.sasl_ssl.sasl.enabled.mechanisms=$(IFS=,; echo "${SCRAM_MECHANISMS[*]}")
$(for m in "${SCRAM_MECHANISMS[@]}"; do echo "listener.name.sasl_ssl.${m,,}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"; done)

# Durability defaults of our design.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
auto.create.topics.enable=false
num.partitions=3
delete.topic.enable=true

# Quick for tests on 2 cores.
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
share.coordinator.state.topic.num.partitions=10
log.segment.bytes=16777216
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
background.threads=4
log.cleaner.threads=1
# The cleaner's dedupe buffer is heap memory (128 MiB by default): too much for a 384 MiB heap.
log.cleaner.dedupe.buffer.size=8388608
# A SIGKILLed node is fenced (and so leaves every ISR, unblocking acks=all) after 6 s, not 9 s;
# a live but slow follower drops out after 10 s rather than 30 s.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
replica.lag.time.max.ms=10000
# Let tests choose short group session timeouts.
group.min.session.timeout.ms=1000
EOF
}

client_config() {
  local user=$1 file=$KAFKA_DIR/clients/$1.properties
  [[ " ${SASL_USERS[*]} " == *" $user "* ]] || die "kafka: unknown SASL user '$user' (known: ${SASL_USERS[*]})"
  mkdir -p "$KAFKA_DIR/clients"
  cat >"$file" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$user" password="$user-secret";
EOF
  echo "$file"
}

# The --add-scram arguments of the format: every SASL user, every SCRAM mechanism.
scram_format_args() {
  local u m
  for u in "${SASL_USERS[@]}"; do
    for m in "${SCRAM_MECHANISMS[@]}"; do printf '%s\n' --add-scram "$m=[name=$u,password=$u-secret]"; done
  done
}

# A cluster formatted before SASL_SSL existed has no SCRAM credentials: add them once, at run time.
ensure_scram_users() {
  [[ -f $KAFKA_DIR/scram-users ]] && return 0
  local u m java t0 configs
  t0=$(now_ms)
  java=$(find_java 17) || die "kafka: no Java 17+ found"
  for u in "${SASL_USERS[@]}"; do
    configs=()
    for m in "${SCRAM_MECHANISMS[@]}"; do configs+=("$m=[password=$u-secret]"); done
    "$java" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$(client_port 1)" \
      --alter --entity-type users --entity-name "$u" --add-config "$(IFS=,; echo "${configs[*]}")" >>"$LOG_DIR/kafka-1.log" 2>&1 \
      || die "kafka: adding the SCRAM credentials of $u failed (see $LOG_DIR/kafka-1.log)"
  done
  echo "${SASL_USERS[*]}" >"$KAFKA_DIR/scram-users"
  say "kafka: SCRAM credentials added to a cluster formatted without them ($(elapsed "$t0"))"
}

# Kafka's own Uuid format: 16 random bytes, base64url without padding, never starting with '-'.
cluster_id() {
  local file=$KAFKA_DIR/cluster-id id
  if [[ ! -s $file ]]; then
    mkdir -p "$KAFKA_DIR"
    id=-
    while [[ $id == -* ]]; do id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
    echo "$id" >"$file"
  fi
  cat "$file"
}

# Format every given node whose data dir is empty; one JVM per node, in parallel.
format_nodes() {
  local n id pids=() fail=0 java scram fresh=1
  java=$(find_java 17) || die "kafka: no Java 17+ found"
  id=$(cluster_id)
  mapfile -t scram < <(scram_format_args)
  for n in "${NODES[@]}"; do [[ -f $KAFKA_DIR/node-$n/data/meta.properties ]] && fresh=0; done
  for n in "$@"; do
    [[ -f $KAFKA_DIR/node-$n/data/meta.properties ]] && continue
    "$java" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format \
      -t "$id" -c "$KAFKA_DIR/node-$n/server.properties" "${scram[@]}" >>"$LOG_DIR/kafka-$n.log" 2>&1 &
    pids+=("$!:$n")
  done
  for p in "${pids[@]}"; do
    wait "${p%%:*}" || { fail=1; say "kafka: formatting node ${p#*:} failed"; show_log "kafka-${p#*:}" 30; }
  done
  # A new cluster (no node had data before) starts with the SCRAM credentials of its format.
  ((fail == 0 && fresh)) && echo "${SASL_USERS[*]}" >"$KAFKA_DIR/scram-users"
  return $fail
}

node_pid() { service_pid "kafka-$1"; }

node_state() {
  local n=$1
  if node_pid "$n" >/dev/null; then
    port_open 127.0.0.1 "$(client_port "$n")" && echo running || echo starting
  else
    echo stopped
  fi
}

# Launch the given nodes (those not running). Fails if a port is held by a process not ours.
launch_nodes() {
  local n port java
  java=${FERRY_KAFKA_JAVA:-$(find_java 17)} || die "kafka: no Java 17+ found"
  for n in "$@"; do
    node_pid "$n" >/dev/null && continue
    for port in "$(client_port "$n")" "$(sasl_port "$n")" "$(sasl_ssl_port "$n")" "$(ssl_port "$n")" $(is_controller "$n" && controller_port "$n"); do
      port_open 127.0.0.1 "$port" && die "kafka: port $port is taken by another process: $(port_owner "$port")"
    done
    # What the node runs with: a later start compares the config it writes against this.
    cp "$KAFKA_DIR/node-$n/server.properties" "$KAFKA_DIR/node-$n/server.properties.started"
    launch "kafka-$n" "$java" "${JAVA_OPTS[@]}" "-Dferry.service=${SERVICE_TAG}kafka-$n" \
      -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_DIR/node-$n/server.properties"
  done
}

# Whether running node $1 was started with another configuration than the one just written (new
# listeners, settings): CI reuses the services it finds running, so a script change must reach them.
# A node started before this record existed is judged by its listeners: if every listener of the new
# configuration answers, its configuration is taken as the record (no restart of a cluster others
# may be using); otherwise it counts as changed.
config_changed() {
  local dir=$KAFKA_DIR/node-$1 port
  if [[ ! -f $dir/server.properties.started ]]; then
    for port in $(sed -n 's/^listeners=//p' "$dir/server.properties" | grep -o ':[0-9]*' | tr -d :); do
      port_open 127.0.0.1 "$port" || return 0
    done
    cp "$dir/server.properties" "$dir/server.properties.started"
    say "kafka: node $1 was started before its configuration was recorded; all its listeners answer, so it is taken as current"
    return 1
  fi
  [[ $(sha256sum <"$dir/server.properties" | cut -d' ' -f1) != $(sha256sum <"$dir/server.properties.started" | cut -d' ' -f1) ]]
}

# What changed, for the log: the lines only one of the two configurations has.
config_diff() {
  local dir=$KAFKA_DIR/node-$1
  [[ -f $dir/server.properties.started ]] || { echo "started before its configuration was recorded"; return; }
  # diff exits 1 when the files differ, which they do here.
  { diff <(grep -v '^#' "$dir/server.properties.started" | sort) <(grep -v '^#' "$dir/server.properties" | sort) || true; } |
    sed -n 's/^\([<>]\) /\1 /p' | sed 's/^</-/; s/^>/+/; s/\(password\|jaas.config\)=.*/\1=.../' | head -20
}

# Waits until no partition is under-replicated: every replica of every partition is in sync again.
wait_in_sync() {
  local java t0 out deadline
  java=$(find_java 17) || die "kafka: no Java 17+ found"
  t0=$(now_ms)
  deadline=$((t0 + START_TIMEOUT_S * 1000))
  while :; do
    out=$(timeout 30 "$java" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$(brokers)" --describe --under-replicated-partitions 2>/dev/null) && [[ -z $out ]] && break
    if (($(now_ms) > deadline)); then
      say "kafka: partitions still under-replicated after ${START_TIMEOUT_S}s:"
      echo "$out" | head -20 >&2
      return 1
    fi
    sleep 0.5
  done
  say "kafka: every partition in sync again ($(elapsed "$t0"))"
}

# Restart running node $1 with its new configuration, and wait until it serves and every partition
# has all its replicas again, so the next restart never takes a second replica away (acks=all).
restart_changed() {
  local n=$1 t0
  t0=$(now_ms)
  say "kafka: node $n runs with an older configuration; restarting it:"
  config_diff "$n" | sed 's/^/    /' >&2 || true
  stop_service "kafka-$n" "$STOP_TIMEOUT_S"
  launch_nodes "$n"
  wait_ready "$n"
  wait_in_sync
  say "kafka: node $n restarted with its new configuration in $(elapsed "$t0")"
}

# Ids of the brokers the cluster's metadata lists as alive (registered and unfenced).
live_broker_ids() {
  local java; java=$(find_java 17) || return 1
  timeout 30 "$java" "${TOOL_JAVA_OPTS[@]}" -cp "$KAFKA_LIB/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$1" 2>/dev/null | sed -n 's/^[^ ]* (id: \([0-9]*\) .*isFenced: false.*/\1/p' | sort -n | tr '\n' ' '
}

# Wait until every node in $@ has its client port open, then until the metadata lists all 3
# brokers. A node process that dies meanwhile fails the wait at once, with its log.
wait_ready() {
  local t0 n ids deadline want="1 2 3 "
  t0=$(now_ms)
  deadline=$((t0 + START_TIMEOUT_S * 1000))
  while :; do
    local open=1
    for n in "$@"; do
      node_pid "$n" >/dev/null || { say "kafka: node $n exited during start"; show_log "kafka-$n" 60; return 1; }
      port_open 127.0.0.1 "$(client_port "$n")" || open=0
    done
    if ((open)); then
      ids=$(live_broker_ids "127.0.0.1:$(client_port "$1")")
      [[ $ids == "$want" ]] && break
    fi
    if (($(now_ms) > deadline)); then
      say "kafka: not ready after ${START_TIMEOUT_S}s (live brokers: ${ids:-none})"
      for n in "$@"; do show_log "kafka-$n" 60; done
      return 1
    fi
    sleep 0.3
  done
  say "kafka: nodes $* ready (brokers ${ids% }) in $(elapsed "$t0")"
}

start_nodes() {
  local n u todo=() changed=()
  fetch
  remember_controllers
  "$SERVICES_SRC/tls.sh" ensure >/dev/null
  for u in "${SASL_USERS[@]}"; do client_config "$u" >/dev/null; done
  for n in "$@"; do
    write_config "$n"
    if [[ $(node_state "$n") != running ]]; then
      todo+=("$n")
    elif config_changed "$n"; then
      changed+=("$n")
    fi
  done
  if ((${#todo[@]} + ${#changed[@]} == 0)); then
    say "kafka: nodes $* already running"
    return 0
  fi
  if ((${#todo[@]} > 0)); then
    format_nodes "${todo[@]}"
    launch_nodes "${todo[@]}"
    wait_ready "${todo[@]}"
    ensure_scram_users
  fi
  # One at a time, each serving with all its replicas in sync before the next: clients of the
  # running cluster (other test runs) see one broker go away at a time, as in a rolling upgrade.
  for n in "${changed[@]}"; do restart_changed "$n"; done
}

status() {
  local n rc=0 s
  for n in "${NODES[@]}"; do
    s=$(node_state "$n")
    echo "kafka-$n $s pid=$(node_pid "$n" 2>/dev/null || echo -) plaintext=$(client_port "$n") sasl=$(sasl_port "$n") sasl_ssl=$(sasl_ssl_port "$n") ssl=$(ssl_port "$n") controller=$(is_controller "$n" && controller_port "$n" || echo -)"
    [[ $s == running ]] || rc=1
  done
  return $rc
}

cmd=${1:-}
shift || true
case $cmd in
  fetch) fetch ;;
  start) start_nodes "${NODES[@]}" ;;
  start-node) check_node "${1:-}"; start_nodes "$1" ;;
  stop)
    for n in "${NODES[@]}"; do stop_service "kafka-$n" "$STOP_TIMEOUT_S" & done
    wait ;;
  stop-node) check_node "${1:-}"; stop_service "kafka-$1" "$STOP_TIMEOUT_S" ;;
  kill)
    check_node "${1:-}"
    pid=$(node_pid "$1") || die "kafka: node $1 is not running"
    kill -KILL "$pid"
    while pid_alive "$pid"; do sleep 0.05; done
    rm -f "$RUN_DIR/kafka-$1.pid"
    say "kafka: node $1 (pid $pid) killed" ;;
  status) status ;;
  clean)
    for n in "${NODES[@]}"; do node_pid "$n" >/dev/null && die "kafka: node $n is running; stop it first"; done
    rm -rf "$KAFKA_DIR" ;;
  tool) run_tool "$@" ;;
  client-config) client_config "${1:?user}" ;;
  brokers) brokers ;;
  sasl-brokers) sasl_brokers ;;
  sasl-ssl-brokers) sasl_ssl_brokers ;;
  ssl-brokers) ssl_brokers ;;
  lib) echo "$KAFKA_LIB" ;;
  *) sed -n '2,19s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
