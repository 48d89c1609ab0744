/**
 * The TLS services of this test run (services/README.md, "TLS"): Kafka's SASL_SSL (SCRAM) and
 * mutual-TLS listeners, the TLS-only PostgreSQL, and the test CA's files.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";

export interface TlsServices {
  saslSslBrokers: string;
  sslBrokers: string;
  scramUsers: Map<string, string>;
  caFile: string;
  otherCaFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  clientEncryptedKeyFile: string;
  clientKeyPassword: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres?sslmode=verify-full */
  databaseUrl: string;
  databaseCertUser: string;
}

export function tlsServices(): TlsServices {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: the TLS services are not running (services/up.sh starts them; scripts/test.sh runs it)`);
    return value;
  };
  return {
    saslSslBrokers: need("FERRY_TEST_KAFKA_SASL_SSL_BROKERS"),
    sslBrokers: need("FERRY_TEST_KAFKA_SSL_BROKERS"),
    scramUsers: new Map(
      need("FERRY_TEST_KAFKA_SCRAM_USERS")
        .split(",")
        .map((pair) => pair.split(":") as [string, string]),
    ),
    caFile: need("FERRY_TEST_TLS_CA_FILE"),
    otherCaFile: need("FERRY_TEST_TLS_OTHER_CA_FILE"),
    clientCertFile: need("FERRY_TEST_TLS_CLIENT_CERT_FILE"),
    clientKeyFile: need("FERRY_TEST_TLS_CLIENT_KEY_FILE"),
    clientEncryptedKeyFile: need("FERRY_TEST_TLS_CLIENT_ENCRYPTED_KEY_FILE"),
    clientKeyPassword: need("FERRY_TEST_TLS_CLIENT_KEY_PASSWORD"),
    databaseUrl: need("FERRY_TEST_DATABASE_TLS_URL"),
    databaseCertUser: need("FERRY_TEST_DATABASE_TLS_CERT_USER"),
  };
}

/**
 * A database of its own on the TLS PostgreSQL: `url` logs in with the password, `certUrl` as the
 * certificate user (no password); both ask for sslmode=verify-full. `sql` is the test's own pool.
 */
export async function tlsDatabase(name: string) {
  const tls = tlsServices();
  const ssl = { ca: readFileSync(tls.caFile, "utf8"), rejectUnauthorized: true };
  const admin = postgres(tls.databaseUrl, { max: 1, ssl, onnotice: () => {} });
  const database = `ferry_${name}_${randomUUID().slice(0, 8)}`;
  await admin.unsafe(`create database ${database}`);
  const url = tls.databaseUrl.replace(/\/postgres\?/, `/${database}?`);
  const certUrl = url.replace(/^postgres:\/\/[^@]*@/, `postgres://${tls.databaseCertUser}@`);
  const sql = postgres(url, { max: 3, ssl, onnotice: () => {} });
  return {
    database,
    url,
    certUrl,
    sql,
    async drop() {
      await sql.end({ timeout: 1 });
      await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => undefined);
      await admin.end({ timeout: 1 });
    },
  };
}
