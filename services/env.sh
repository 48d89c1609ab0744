#!/usr/bin/env bash
# Print the exports for the services that are running now (up.sh writes them to .services/env).
# Format: one `export KEY='value'` per line, so it can be sourced or parsed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emit() { printf "export %s='%s'\n" "$1" "$2"; }

echo "# Written by services/up.sh at $(date -u +%FT%TZ) for the services running then."
if "$SERVICES_SRC/kafka.sh" status >/dev/null; then
  emit FERRY_TEST_KAFKA_BROKERS "$("$SERVICES_SRC/kafka.sh" brokers)"
  emit FERRY_TEST_KAFKA_SASL_BROKERS "$("$SERVICES_SRC/kafka.sh" sasl-brokers)"
  emit FERRY_TEST_KAFKA_SASL_MECHANISM PLAIN
  emit FERRY_TEST_KAFKA_SASL_USERS "admin:admin-secret,alice:alice-secret,bob:bob-secret,carol:carol-secret"
  emit FERRY_TEST_KAFKA_CLIENT_CONFIG_DIR "$STATE_DIR/kafka/clients"
  emit FERRY_TEST_KAFKA_TOOLS_CP "$("$SERVICES_SRC/kafka.sh" lib)/*"
  emit FERRY_TEST_KAFKA_TOOL "$SERVICES_SRC/kafka.sh tool"
fi
if "$SERVICES_SRC/registry.sh" status >/dev/null; then
  emit FERRY_TEST_REGISTRY_URL "$("$SERVICES_SRC/registry.sh" url)"
fi
if "$SERVICES_SRC/postgres.sh" status >/dev/null; then
  emit FERRY_TEST_DATABASE_URL "$("$SERVICES_SRC/postgres.sh" url)"
fi
