#!/usr/bin/env bash
# Print the exports for the services that are running now (up.sh writes them to .services/env).
# Format: one `export KEY='value'` per line, so it can be sourced or parsed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emit() { printf "export %s='%s'\n" "$1" "$2"; }

echo "# Written by services/up.sh at $(date -u +%FT%TZ) for the services running then."
kafka_up=0 pg_tls_up=0
"$SERVICES_SRC/kafka.sh" status >/dev/null && kafka_up=1
"$SERVICES_SRC/postgres-tls.sh" status >/dev/null && pg_tls_up=1
if ((kafka_up)); then
  emit FERRY_TEST_KAFKA_BROKERS "$("$SERVICES_SRC/kafka.sh" brokers)"
  emit FERRY_TEST_KAFKA_SASL_BROKERS "$("$SERVICES_SRC/kafka.sh" sasl-brokers)"
  emit FERRY_TEST_KAFKA_SASL_MECHANISM PLAIN
  emit FERRY_TEST_KAFKA_SASL_USERS "admin:admin-secret,alice:alice-secret,bob:bob-secret,carol:carol-secret"
  emit FERRY_TEST_KAFKA_CLIENT_CONFIG_DIR "$STATE_DIR/kafka/clients"
  emit FERRY_TEST_KAFKA_TOOLS_CP "$("$SERVICES_SRC/kafka.sh" lib)/*"
  emit FERRY_TEST_KAFKA_TOOL "$SERVICES_SRC/kafka.sh tool"
  # TLS listeners: SASL_SSL with SCRAM (same users and passwords), SSL with client certificates.
  emit FERRY_TEST_KAFKA_SASL_SSL_BROKERS "$("$SERVICES_SRC/kafka.sh" sasl-ssl-brokers)"
  emit FERRY_TEST_KAFKA_SCRAM_MECHANISMS "SCRAM-SHA-512,SCRAM-SHA-256"
  emit FERRY_TEST_KAFKA_SCRAM_USERS "admin:admin-secret,alice:alice-secret,bob:bob-secret,carol:carol-secret"
  emit FERRY_TEST_KAFKA_SSL_BROKERS "$("$SERVICES_SRC/kafka.sh" ssl-brokers)"
  emit FERRY_TEST_KAFKA_SSL_PRINCIPAL "User:ferry-client"
fi
if ((kafka_up || pg_tls_up)); then
  tls=$("$SERVICES_SRC/tls.sh" dir)
  emit FERRY_TEST_TLS_CA_FILE "$tls/ca.pem"
  emit FERRY_TEST_TLS_CLIENT_CERT_FILE "$tls/client.pem"
  emit FERRY_TEST_TLS_CLIENT_KEY_FILE "$tls/client.key"
  emit FERRY_TEST_TLS_CLIENT_ENCRYPTED_KEY_FILE "$tls/client-encrypted.key"
  emit FERRY_TEST_TLS_CLIENT_KEY_PASSWORD "client-key-secret"
  emit FERRY_TEST_TLS_OTHER_CA_FILE "$tls/other-ca.pem"
fi
if "$SERVICES_SRC/registry.sh" status >/dev/null; then
  emit FERRY_TEST_REGISTRY_URL "$("$SERVICES_SRC/registry.sh" url)"
fi
if "$SERVICES_SRC/postgres.sh" status >/dev/null; then
  emit FERRY_TEST_DATABASE_URL "$("$SERVICES_SRC/postgres.sh" url)"
fi
if ((pg_tls_up)); then
  emit FERRY_TEST_DATABASE_TLS_URL "$("$SERVICES_SRC/postgres-tls.sh" url)"
  emit FERRY_TEST_DATABASE_TLS_CERT_USER "$("$SERVICES_SRC/postgres-tls.sh" cert-user)"
fi
