import type { Sql, TransactionSql } from "postgres";
import { run } from "./run.ts";

/**
 * A statement that does nothing, so that PostgreSQL does not take a live client for a silent one:
 * the relay holding its turn (idle_session_timeout, see takeRelayTurn) and a unit of work between
 * its statements (idle_in_transaction_session_timeout, see limitTransactionTimes).
 */
export function keepSessionTalking(conn: Sql | TransactionSql): Promise<unknown> {
  return run(conn`select 1`);
}
