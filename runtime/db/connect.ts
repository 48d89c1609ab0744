import { readFileSync } from "node:fs";
import postgres, { type Sql, type TransactionSql } from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { DatabaseConnection } from "../config/database-settings.ts";

/**
 * One postgres.js pool for the process. Notices are dropped: they are not errors.
 *
 * json/jsonb parameters that are already strings are sent as they are: Drizzle serialises
 * json columns itself, and a second JSON.stringify would store a JSON string instead of the
 * document. Objects, arrays, numbers and booleans are serialised as usual, so
 * ctx.sql`... ${{ a: 1 }}` still works; to store a bare JSON string, pass JSON.stringify(s).
 */
export function connectDatabase(
  target: string | Pick<DatabaseConnection, "url" | "sslMode" | "tls">,
  { poolSize = 10, connectTimeoutS }: { poolSize?: number; connectTimeoutS?: number } = {},
): Sql {
  // A bare URL (tests, tools) keeps postgres.js's own reading of its sslmode.
  const connection = typeof target === "string" ? { url: target } : target;
  return postgres(connection.url, {
    max: poolSize,
    ...(typeof target === "string" ? {} : { ssl: sslOption(connection) }),
    ...(connectTimeoutS !== undefined ? { connect_timeout: connectTimeoutS } : {}),
    onnotice: () => {},
    connection: { application_name: "ferry" },
    types: {
      json: {
        to: 114,
        from: [114, 3802],
        serialize: (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x)),
        parse: (x: string) => JSON.parse(x),
      },
    },
  });
}

type SslOption =
  | boolean
  | "allow"
  | "prefer"
  | "require"
  | { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean; checkServerIdentity?: () => undefined };

/**
 * postgres.js's `ssl` for the URL's sslmode, with libpq's meaning: verify-full checks the chain
 * and that the certificate names the host connected to; verify-ca the chain only; require only
 * encrypts, unless a CA is given (then, as libpq does, it verifies like verify-ca). Always set:
 * an absent key would let postgres.js read PGSSLMODE from the environment instead.
 */
function sslOption({ sslMode, tls }: Pick<DatabaseConnection, "sslMode" | "tls">): SslOption {
  if (sslMode === undefined || sslMode === "disable") return false;
  if (sslMode === "allow" || sslMode === "prefer") return sslMode;
  const files = {
    ...(tls?.caFile ? { ca: readFileSync(tls.caFile, "utf8") } : {}),
    ...(tls?.certFile ? { cert: readFileSync(tls.certFile, "utf8") } : {}),
    ...(tls?.keyFile ? { key: readFileSync(tls.keyFile, "utf8") } : {}),
  };
  if (sslMode === "require" && !files.ca) return { ...files, rejectUnauthorized: false };
  // The host name check is the TLS layer's default (against the host actually connected to).
  return sslMode === "verify-full" ? { ...files, rejectUnauthorized: true } : { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

/**
 * Drizzle over a transaction of `pool`. Drizzle's constructor rewrites its client's type
 * parsers (dates as strings) — on the shared pool that would change what every ctx.sql query
 * returns — so it gets a view of the transaction with copies of the options to rewrite.
 */
export function drizzleOver(tx: TransactionSql, pool: Sql): PostgresJsDatabase {
  const options = { ...pool.options, parsers: { ...pool.options.parsers }, serializers: { ...pool.options.serializers } };
  const view = new Proxy(tx, { get: (target, property, receiver) => (property === "options" ? options : Reflect.get(target, property, receiver)) });
  return drizzle(view as unknown as Sql);
}
