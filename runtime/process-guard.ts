/**
 * What the process does with a promise rejection (or an error event) nobody handled. postgres.js leaves some of its own
 * promises unhandled when PostgreSQL terminates a connection (a reconnect's type lookup, a query
 * settled after its transaction gave up: porsager/postgres#1186, #1195, #1199), and Bun exits on
 * an unhandled rejection: a database restart would kill every worker. Such a connection-level
 * failure is the environment's, and the unit of work that met it already waits it out, so it is
 * logged as a warning and survived.
 *
 * Anything else is a bug — most often a handler's: a promise it never awaited, a timer that
 * throws. It is logged with its stack and survived too. Exiting would turn one careless line in
 * one handler into a restart loop of the whole worker, while the events themselves are safe
 * either way (an unawaited rejection has no say in its transaction). A worker truly wedged by
 * such a failure is caught by the stall watch and /healthz.
 */
import { asDatabaseError } from "./db/errors.ts";
import { coerceError } from "./errors.ts";
import type { Logger } from "./log/logger.ts";

/** A rejection that is the database connection failing, not a bug of Ferry's or a handler's. */
export function isStrayConnectionFailure(reason: unknown): boolean {
  const db = asDatabaseError(reason);
  return db !== null && (db.category === "connection" || db.category === "unavailable");
}

/** A query refused because its pool was ended (postgres.js CONNECTION_ENDED): a stop, not a failure. */
const isEndedPool = (reason: unknown) => (reason as { code?: unknown })?.code === "CONNECTION_ENDED";

export function guardProcess(log: Logger): () => void {
  const onRejection = (reason: unknown) => {
    const error = coerceError(reason);
    if (isStrayConnectionFailure(reason) || isEndedPool(reason)) {
      log.warn("process:stray-database-error", { errorClass: error.name, errorCode: asDatabaseError(reason)?.code, error: error.message });
      return;
    }
    log.error("process:unhandled-failure", { errorClass: error.name, error: error.message, stack: error.stack });
  };
  // A socket error event the driver did not listen to arrives as an uncaught exception: same rule.
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onRejection);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onRejection);
  };
}
