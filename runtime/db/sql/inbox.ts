import type { Sql, TransactionSql } from "postgres";
import { run } from "./run.ts";

/**
 * Time limits for the rest of the transaction, enforced by PostgreSQL. `statementMs`: a statement
 * past it is cancelled, so a call past its time cannot keep the connection busy. `idleMs`: a session
 * silent that long inside the transaction is ended, and its locks with it. The client may be frozen
 * (a paused VM, SIGSTOP) or cut off, and PostgreSQL cannot tell that from slow: without the limit
 * the rows it claimed stay locked, and the replica its partitions move to waits on them for as
 * long (hours, with the operating system's TCP keepalive).
 */
export function limitTransactionTimes(tx: TransactionSql, { statementMs, idleMs }: { statementMs: number; idleMs: number }): Promise<unknown> {
  return run(
    tx`select set_config('statement_timeout', ${String(Math.floor(statementMs))}, true),
      set_config('idle_in_transaction_session_timeout', ${String(Math.floor(idleMs))}, true)`.execute(),
  );
}

/** The transaction may stay silent up to `idleMs` from now on: it waits on something other than PostgreSQL. Pipelined. */
export function allowTransactionIdle(tx: TransactionSql, idleMs: number): Promise<unknown> {
  return run(tx`select set_config('idle_in_transaction_session_timeout', ${String(Math.floor(idleMs))}, true)`.execute());
}

/**
 * Waits until no other transaction of this handler (any replica) runs, and holds that until this
 * one ends: how a contended handler's transactions run one at a time (failure/contention.ts). Pipelined.
 */
export function serializeHandler(tx: TransactionSql, handler: string): Promise<unknown> {
  return run(tx`select pg_advisory_xact_lock(hashtextextended(${`ferry.serialize.${handler}`}, 0))`.execute());
}

/** Replaying dead letters: their inbox rows no longer count as "seen". Pipelined. */
export function reopenDeadLettered(tx: TransactionSql, handler: string, eventIds: string[]): Promise<unknown> {
  return run(tx`delete from ferry_inbox where handler = ${handler} and outcome = 'dead-lettered' and event_id = any(${eventIds}::text[])`.execute());
}

/** Claimed events that turned out to be dead letters (functional duplicates, failed keys). Pipelined. */
export function markDeadLettered(tx: TransactionSql, handler: string, eventIds: string[]): Promise<unknown> {
  return run(tx`update ferry_inbox set outcome = 'dead-lettered' where handler = ${handler} and event_id = any(${eventIds}::text[])`.execute());
}

/** An event dead-lettered after the handler failed on it alone: recorded as dealt with. */
export function insertDeadLettered(
  tx: TransactionSql,
  handler: string,
  event: { id: string; topic: string; partition: number; offset: string },
): Promise<unknown> {
  return run(
    tx`insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
    values (${handler}, ${event.id}, ${event.topic}, ${event.partition}, ${event.offset}, 'dead-lettered')
    on conflict (handler, event_id) do nothing`.execute(),
  );
}

/** Inbox rows per handler (what technical deduplication keeps until pruned). */
export async function countInboxRows(sql: Sql): Promise<Array<{ handler: string; rows: number }>> {
  return [...(await run(sql<Array<{ handler: string; rows: number }>>`select handler, count(*)::int as rows from ferry_inbox group by handler`))];
}

/** Deletes at most `limit` inbox rows older than the retention; returns how many. */
export async function pruneInboxChunk(sql: Sql, retentionHours: number, limit: number): Promise<number> {
  const deleted = await run(sql`delete from ferry_inbox where ctid in (
    select ctid from ferry_inbox where received_at < now() - make_interval(hours => ${retentionHours}) limit ${limit})`);
  return deleted.count;
}

/** A session-level advisory lock, tried without waiting. */
export async function tryAdvisoryLock(sql: Sql, key: number): Promise<boolean> {
  const [row] = await run(sql<{ locked: boolean }[]>`select pg_try_advisory_lock(${key}) as locked`);
  return row?.locked === true;
}

export function advisoryUnlock(sql: Sql, key: number): Promise<unknown> {
  return run(sql`select pg_advisory_unlock(${key})`);
}
