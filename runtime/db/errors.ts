/**
 * The postgres.js adapter's side of Ferry's error model: whatever postgres.js (or Drizzle over it)
 * threw becomes a DatabaseError whose `category` says what kind of failure it is, from the SQLSTATE
 * class. This is the only place that reads SQLSTATEs; the failure policy decides from the category.
 *
 * | SQLSTATE                                   | category      | retriable |
 * | ------------------------------------------ | ------------- | --------- |
 * | 08xxx, driver connection errors            | connection    | yes       |
 * | 25P03 (idle-in-transaction session ended)  | connection    | yes       |
 * | 53xxx (disk full, out of memory, …)        | resources     | yes       |
 * | 57P01-57P05 (shutdown, cannot connect now) | unavailable   | yes       |
 * | 58xxx, XXxxx (system, internal)            | system        | yes       |
 * | 40001, 40P01, 55P03                        | contention    | yes       |
 * | 57014 (statement_timeout)                  | canceled      | yes       |
 * | 22xxx (data exception)                     | data          | no        |
 * | 54xxx (program limit exceeded)             | limit         | no        |
 * | 23xxx (integrity constraint)               | integrity     | yes       |
 * | 42xxx, 3Dxxx, 3Fxxx, 28xxx, 0Axxx          | program       | yes       |
 * | 25xxx (invalid transaction state)          | transaction   | yes       |
 * | anything else                              | other         | yes       |
 *
 * Integrity is retriable: a foreign key may be satisfied once another event has been applied.
 * A program error (undefined table, permission denied) is fixed by a deploy, not by the event.
 */
import { type DatabaseErrorCategory, DatabaseError } from "../errors.ts";

// postgres.js's own connection failures and the socket errors it passes through.
const connectionCodes = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

const notRetriable = new Set<DatabaseErrorCategory>(["data", "limit"]);

/** The category of a SQLSTATE (five characters) or of a driver connection code. */
export function categoryOf(code: string): DatabaseErrorCategory | null {
  if (connectionCodes.has(code)) return "connection";
  if (!/^[0-9A-Z]{5}$/.test(code)) return null;
  if (code === "40001" || code === "40P01" || code === "55P03") return "contention";
  if (code === "57014") return "canceled";
  // The server ended the session of a transaction silent past its limit (a frozen or cut-off
  // client, see limitTransactionTimes): the connection is gone, whatever statement hears of it.
  if (code === "25P03") return "connection";
  const cls = code.slice(0, 2);
  if (cls === "08") return "connection";
  if (cls === "53") return "resources";
  if (cls === "57") return "unavailable";
  if (cls === "58" || cls === "XX") return "system";
  if (cls === "22") return "data";
  if (cls === "54") return "limit";
  if (cls === "23") return "integrity";
  if (cls === "42" || cls === "3D" || cls === "3F" || cls === "28" || cls === "0A") return "program";
  if (cls === "25") return "transaction";
  return "other";
}

/**
 * The DatabaseError for anything postgres.js or Drizzle threw, or null when `thrown` is not a
 * database failure (a handler's own error). Drizzle wraps the driver's error as its `cause`: the
 * adapter looks that far, so nobody after it needs to.
 */
export function asDatabaseError(thrown: unknown): DatabaseError | null {
  if (thrown instanceof DatabaseError) return thrown;
  for (let e: unknown = thrown, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    const category = categoryOf(code);
    if (!category) continue;
    return new DatabaseError(describe(e, code), category, { cause: thrown, code, retriable: !notRetriable.has(category) });
  }
  return null;
}

/** Translates a database failure and passes anything else through unchanged. */
export function translateDatabaseError(thrown: unknown): unknown {
  return asDatabaseError(thrown) ?? thrown;
}

function describe(e: Error, code: string): string {
  const detail = (e as { detail?: unknown }).detail;
  const what = /^[0-9A-Z]{5}$/.test(code) ? `SQLSTATE ${code}` : code;
  return `${e.message}${typeof detail === "string" && detail ? ` (${detail})` : ""} [${what}]`;
}
