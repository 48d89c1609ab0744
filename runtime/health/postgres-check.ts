/** Can PostgreSQL be reached, with Ferry's own URL and TLS settings? One fresh connection per check. */
import type { DatabaseConnection } from "../config/database-settings.ts";
import { connectDatabase } from "../db/connect.ts";
import { refusal, type Dependency } from "./dependency.ts";
import { oneLine, within } from "./bounded.ts";

/** SQLSTATEs of a server that answered and said no: the login, or the database named. */
const refusedStates: Record<string, string> = {
  "28P01": "the login was refused",
  "28000": "the login was refused",
  "3D000": "the database does not exist",
  "42501": "the login was refused",
};

/**
 * The connection to PostgreSQL as a dependency. Each check opens its own connection (never the
 * engine's pool: a probe must neither wait behind work nor leave a hung query in it) and closes
 * it at once, answered or not.
 */
export function postgresDependency(database: DatabaseConnection): Dependency {
  const dependency = { name: "PostgreSQL", setting: "FERRY_DATABASE_URL", address: database.address };
  return {
    ...dependency,
    async check(timeoutMs) {
      const sql = connectDatabase(database, { poolSize: 1, connectTimeoutS: timeoutMs / 1000 });
      try {
        await within(sql`select 1`.execute(), timeoutMs);
      } catch (e) {
        throw classifyPostgresError(e, database, dependency);
      } finally {
        void sql.end({ timeout: 0 }).catch(() => undefined);
      }
    },
  };
}

/** A refusal for what waiting cannot fix; anything else (refused port, timeout, DNS, a server starting up) as it is. */
export function classifyPostgresError(e: unknown, database: DatabaseConnection, dependency: Pick<Dependency, "name" | "address">): unknown {
  const code = String((e as { code?: unknown }).code ?? "");
  const message = oneLine(e);
  const refused = refusedStates[code];
  if (refused) {
    const certificateLogin = /certificate/i.test(message);
    return refusal(dependency, certificateLogin ? "FERRY_DATABASE_SSL_CERT_FILE" : "FERRY_DATABASE_URL", `${refused}: ${message}`, e);
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || /HOSTNAME_MISMATCH/.test(code)) {
    return refusal(dependency, "FERRY_DATABASE_URL", `its TLS certificate does not name the host connected to: ${message}`, e);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return refusal(
      dependency,
      database.tls?.caFile ? "FERRY_DATABASE_SSL_CA_FILE" : "FERRY_DATABASE_SSL_CA_FILE (no CA is set: the system's CAs were used)",
      `its TLS certificate is not trusted: ${message}`,
      e,
    );
  }
  if (/does not support SSL/i.test(message)) {
    return refusal(dependency, "FERRY_DATABASE_URL", `${message} (the URL asks for sslmode=${database.sslMode})`, e);
  }
  if (/ERR_OSSL|PEM|bad decrypt|key values mismatch/i.test(`${code} ${message}`)) {
    return refusal(dependency, "FERRY_DATABASE_SSL_CERT_FILE and FERRY_DATABASE_SSL_KEY_FILE", `the client certificate or key cannot be used: ${message}`, e);
  }
  return e;
}
