import postgres, { type Sql, type TransactionSql } from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";

/**
 * One postgres.js pool for the process. Notices are dropped: they are not errors.
 *
 * json/jsonb parameters that are already strings are sent as they are: Drizzle serialises
 * json columns itself, and a second JSON.stringify would store a JSON string instead of the
 * document. Objects, arrays, numbers and booleans are serialised as usual, so
 * ctx.sql`... ${{ a: 1 }}` still works; to store a bare JSON string, pass JSON.stringify(s).
 */
export function connectDatabase(url: string, { poolSize = 10 }: { poolSize?: number } = {}): Sql {
  return postgres(url, {
    max: poolSize,
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
