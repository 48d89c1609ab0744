#!/usr/bin/env bash
# The README's first Quickstart command: installs what is missing, starts Kafka and PostgreSQL,
# builds dist/ferry and runs it on ./handlers. Ctrl-C stops the worker (services keep running;
# services/down.sh stops them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
services/up.sh kafka postgres
source .services/env
bun run build >&2

DB=ferry_quickstart
services/postgres.sh create-db "$DB" >/dev/null 2>&1 || true
export FERRY_KAFKA_BROKERS=$FERRY_TEST_KAFKA_BROKERS
export FERRY_DATABASE_URL="${FERRY_TEST_DATABASE_URL%/*}/$DB"

# The example handler consumes "orders"; its dead letters go to "orders.dlt".
for topic in orders orders.dlt; do
  services/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "${FERRY_KAFKA_BROKERS%%,*}" \
    --create --if-not-exists --topic "$topic" --partitions 3 --replication-factor 3 --config min.insync.replicas=2 >/dev/null
done

cat >&2 <<TXT

Ferry is starting on ./handlers (Kafka $FERRY_KAFKA_BROKERS, database $DB).
Send an order from another shell (header event-id, then a tab, then the JSON value):
  printf 'event-id:e1\t{"orderId":"o-1","customerId":"c-1","totalCents":1250}\n' | services/kafka.sh tool \\
    org.apache.kafka.tools.ConsoleProducer --bootstrap-server ${FERRY_KAFKA_BROKERS%%,*} --topic orders \\
    --reader-property parse.headers=true
Then: psql -h 127.0.0.1 -U postgres $DB -c 'select * from order_totals'
TXT
exec dist/ferry run --handlers ./handlers
