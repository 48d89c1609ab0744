#!/usr/bin/env bash
# The test certificate authority and the certificates the TLS services and their clients use,
# made with openssl once and kept in .services/tls/ (an instance's: .services/<name>/tls/) until
# `clean`. Every key is EC P-256: a set is made in well under a second.
#
#   tls.sh ensure    make the set unless it is there and valid for another day; print the directory
#   tls.sh dir       print the directory
#   tls.sh clean     delete it (the next ensure makes a new CA: restart the TLS services then)
#
# Files (PEM unless said otherwise):
#   ca.pem                   the test CA, which signs everything below
#   server.pem, server.key   127.0.0.1 and localhost (Kafka's SSL listeners, PostgreSQL)
#   server.p12               the same as a PKCS12 keystore for the brokers (password: ferry-test)
#   client.pem, client.key   CN=ferry-client, for mutual TLS (Kafka principal User:ferry-client,
#                            PostgreSQL role ferry-client)
#   client-encrypted.key     the same key, encrypted (PKCS#8) with the password client-key-secret
#   other-ca.pem             an unrelated CA that signed nothing here: "the wrong CA" in tests
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TLS_DIR=$STATE_DIR/tls
DAYS=3650
KEYSTORE_PASSWORD=ferry-test
CLIENT_KEY_PASSWORD=client-key-secret

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

# sign NAME SUBJECT EXTENSIONS: NAME.key (new) and NAME.pem signed by the CA.
sign() {
  local name=$1 subject=$2 ext=$3
  newkey "$TLS_DIR/$name.key"
  openssl req -new -key "$TLS_DIR/$name.key" -subj "$subject" -out "$TLS_DIR/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$TLS_DIR/$name.ext"
  openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -extfile "$TLS_DIR/$name.ext" -out "$TLS_DIR/$name.pem" 2>/dev/null
  rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

selfsigned_ca() {
  newkey "$TLS_DIR/$1.key"
  openssl req -x509 -new -key "$TLS_DIR/$1.key" -subj "$2" -days "$DAYS" -sha256 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out "$TLS_DIR/$1.pem" 2>/dev/null
}

FILES=(ca.pem server.pem server.key server.p12 client.pem client.key client-encrypted.key other-ca.pem)

# The set is made at once and stamped with its time; it is made again (all of it, a new CA) when
# a file is missing or the certificates expire within a day. A check costs no openssl call.
complete() {
  local made f
  made=$(cat "$TLS_DIR/.complete" 2>/dev/null) || return 1
  [[ $made =~ ^[0-9]+$ ]] && (($(date +%s) - made < (DAYS - 1) * 86400)) || return 1
  for f in "${FILES[@]}"; do [[ -s $TLS_DIR/$f ]] || return 1; done
}

ensure() {
  if ! command -v openssl >/dev/null; then
    say "tls: installing openssl from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null || die "tls: apt-get install openssl failed"
  fi
  mkdir -p "$TLS_DIR"
  # kafka.sh and postgres-tls.sh may both ask at once (up.sh starts them together).
  exec 8>"$TLS_DIR/.lock"
  flock 8
  if ! complete; then
    local t0; t0=$(now_ms)
    rm -f "$TLS_DIR"/*.pem "$TLS_DIR"/*.key "$TLS_DIR"/*.p12 "$TLS_DIR"/*.srl "$TLS_DIR/.complete"
    selfsigned_ca ca "/CN=Ferry test CA"
    sign server "/CN=localhost" "$(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      "extendedKeyUsage=serverAuth,clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment")"
    openssl pkcs12 -export -in "$TLS_DIR/server.pem" -inkey "$TLS_DIR/server.key" -certfile "$TLS_DIR/ca.pem" \
      -name server -passout "pass:$KEYSTORE_PASSWORD" -out "$TLS_DIR/server.p12" 2>/dev/null
    sign client "/CN=ferry-client" "$(printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature")"
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$TLS_DIR/client.key" -passout "pass:$CLIENT_KEY_PASSWORD" -out "$TLS_DIR/client-encrypted.key"
    selfsigned_ca other-ca "/CN=Not the Ferry test CA"
    rm -f "$TLS_DIR/other-ca.key" "$TLS_DIR/ca.srl"
    # Readable by the PostgreSQL server (it runs as postgres) and by tests running as another user;
    # keys stay private to their owner.
    chmod 755 "$TLS_DIR"
    chmod 644 "$TLS_DIR"/*.pem
    chmod 600 "$TLS_DIR"/*.key "$TLS_DIR/server.p12"
    date +%s >"$TLS_DIR/.complete"
    say "tls: made a test CA and certificates in $TLS_DIR ($(elapsed "$t0"))"
  fi
  echo "$TLS_DIR"
}

case ${1:-} in
  ensure) ensure ;;
  dir) echo "$TLS_DIR" ;;
  clean) rm -rf "$TLS_DIR" ;;
  *) sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
