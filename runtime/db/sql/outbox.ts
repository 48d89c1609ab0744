import type { Sql, TransactionSql } from "postgres";
import { run } from "./run.ts";

/** The channel a committed publish notifies: relays of other replicas wake on it. */
export const OUTBOX_CHANNEL = "ferry_outbox";
// Any constant works; it only has to be the same for every Ferry process on this database.
export const RELAY_LOCK_KEY = 0x6665_726f; // "fero"

export interface OutboxRow {
  eventId: string;
  handler: string;
  sourceEventId: string;
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A row as written: its id (the send order) and when, for the relay to send it without reading it back. */
export interface WrittenRow {
  id: string;
  event_id: string;
  created_ms: number;
}

/**
 * Events `ctx.publish` wrote, in the handler's transaction, in one statement, in the order given
 * (their ids, the relay's send order, follow it). The same event id again (a replayed call) is
 * kept once: only the rows written are returned. Keys and values travel as one bytea parameter
 * (sent in binary, see patches/postgres) cut by offset and length: no per-row encoding on either
 * side, where base64 text arrays cost both the worker and the server a pass over every byte.
 */
export function insertOutboxRows(tx: TransactionSql, rows: readonly OutboxRow[]): Promise<WrittenRow[]> {
  const parts: Buffer[] = [];
  const keyAt: number[] = [];
  const keyLength: number[] = [];
  const valueAt: number[] = [];
  const valueLength: number[] = [];
  let at = 1; // substring() counts from 1
  const place = (b: Buffer | null, offsets: number[], lengths: number[]) => {
    offsets.push(at);
    lengths.push(b === null ? -1 : b.length);
    if (b === null) return;
    parts.push(b);
    at += b.length;
  };
  for (const r of rows) {
    place(r.key, keyAt, keyLength);
    place(r.value, valueAt, valueLength);
  }
  const bytes = Buffer.concat(parts);
  return run(
    // clock_timestamp(): when the handler published, not when its transaction began. `bytes` is
    // named once (p): every mention of a parameter sends it again.
    tx<WrittenRow[]>`insert into ferry_outbox (event_id, handler, source_event_id, topic, key, value, headers, created_at)
      select e, h, s, t, case when kl >= 0 then substring(p.bytes from ka for kl) end,
             case when vl >= 0 then substring(p.bytes from va for vl) end, hd::jsonb, clock_timestamp()
      from (select ${bytes}::bytea as bytes) p, unnest(${rows.map((r) => r.eventId)}::text[], ${rows.map((r) => r.handler)}::text[], ${rows.map((r) => r.sourceEventId)}::text[],
                  ${rows.map((r) => r.topic)}::text[], ${keyAt}::int[], ${keyLength}::int[], ${valueAt}::int[], ${valueLength}::int[],
                  ${rows.map((r) => JSON.stringify(r.headers))}::text[]) with ordinality as u(e, h, s, t, ka, kl, va, vl, hd, n)
      order by n
      on conflict (event_id) do nothing
      returning id::text as id, event_id, (extract(epoch from created_at) * 1000)::float8 as created_ms`.execute(),
  );
}

/**
 * Headers as a jsonb column gives them back: keys ordered by their length in bytes, then bytewise.
 * A row sent from memory must be the same record as the same row read back and sent again.
 */
export function storedHeaderOrder(headers: Record<string, string>): Record<string, string> {
  const keys = Object.keys(headers);
  if (keys.length < 2) return headers;
  const bytes = new Map(keys.map((k) => [k, Buffer.from(k)]));
  keys.sort((a, b) => {
    const [x, y] = [bytes.get(a)!, bytes.get(b)!];
    return x.length - y.length || Buffer.compare(x, y);
  });
  return Object.fromEntries(keys.map((k) => [k, headers[k]!]));
}

/** Delivered when (and only if) the transaction commits: relays elsewhere wake. Pipelined. */
export function notifyOutbox(tx: TransactionSql): Promise<unknown> {
  return run(tx`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute());
}

/**
 * The relay's turn: at most one replica sends at a time, so rows go out in id order across
 * replicas. A session lock, held on the relay's own connection across its pipelined sends until
 * it gives the turn up (or its connection ends); false when another relay holds it.
 *
 * A process frozen (SIGSTOP, a stalled VM) or cut off while holding it keeps its connection open,
 * and with it the lock, as far as PostgreSQL knows: every relay would wait for good. So the turn's
 * session ends once it sends no statement for `idleMs` (idle_session_timeout, PostgreSQL 14+;
 * older servers keep the lock until the connection ends). A live relay keeps it while it waits on
 * Kafka by speaking on the session (keepSessionTalking); should it lose it anyway, its unmarked rows go
 * out again with the same ids.
 */
export async function takeRelayTurn(conn: Sql, idleMs: number): Promise<boolean> {
  // plan_cache_mode: readUnsent's exclusion `id <> all($1)` is a hashed lookup only when the plan
  // sees the array as a constant; a generic plan compared every row with every id in flight
  // (4,000 ids: 64-82 ms a read of 1,000 rows, 6-8 ms planned each time).
  const [row] = await run(conn<{ locked: boolean }[]>`select pg_try_advisory_lock(${RELAY_LOCK_KEY}) as locked,
    case when current_setting('server_version_num')::int >= 140000 then set_config('idle_session_timeout', ${String(idleMs)}, false) end,
    case when current_setting('server_version_num')::int >= 120000 then set_config('plan_cache_mode', 'force_custom_plan', false) end`);
  if (row?.locked === true) return true;
  await resetTurnSettings(conn);
  return false;
}

/** Unlocks, and the connection goes back to the pool without the turn's settings. */
export async function giveUpRelayTurn(conn: Sql): Promise<unknown> {
  await run(conn`select pg_advisory_unlock(${RELAY_LOCK_KEY})`);
  return resetTurnSettings(conn);
}

/** Back to what the session had before the turn (the server's or the role's setting, as RESET would). */
function resetTurnSettings(conn: Sql): Promise<unknown> {
  return run(conn`select set_config(name, reset_val, false) from pg_settings where name in ('idle_session_timeout', 'plan_cache_mode')`);
}

export interface UnsentRow {
  id: string;
  event_id: string;
  handler: string;
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** When its transaction wrote it, milliseconds since the epoch (database clock). */
  created_ms: number;
}

/** An unsent row's place in the send order: enough to send it when this process still holds what it wrote. */
export interface UnsentSlot {
  id: string;
  event_id: string;
  topic: string;
  created_ms: number;
}

/**
 * The oldest unsent rows, in the order they must go out, but those in `excluding` (being sent
 * already) and those of `heldTopics` (Kafka refuses the topic for now). Set-aside rows are never
 * read. Only their ids and topics: the relay has most rows in memory from their commit and reads
 * the rest with readRows. Ordered by the bigint column, not by the text `id` it returns (ORDER BY
 * would take the output column: "1000" sorts before "999").
 */
export function readUnsentSlots(
  conn: Sql | TransactionSql,
  limit: number,
  excluding: readonly string[] = [],
  heldTopics: readonly string[] = [],
): Promise<UnsentSlot[]> {
  return run(conn<UnsentSlot[]>`
    select o.id::text as id, o.event_id, o.topic, (extract(epoch from o.created_at) * 1000)::float8 as created_ms
    from ferry_outbox o
    where o.sent_at is null and o.failed_at is null and o.id <> all(${excluding as string[]}::bigint[]) and o.topic <> all(${heldTopics as string[]}::text[])
    order by o.id limit ${limit}`);
}

/** These rows in full, in id order (those no longer there are left out). */
export function readRows(conn: Sql | TransactionSql, ids: readonly string[]): Promise<UnsentRow[]> {
  return run(conn<UnsentRow[]>`
    select o.id::text as id, o.event_id, o.handler, o.topic, o.key, o.value, o.headers, (extract(epoch from o.created_at) * 1000)::float8 as created_ms
    from ferry_outbox o where o.id = any(${ids as string[]}::bigint[]) order by o.id`);
}

/**
 * Rows Kafka acknowledged, each at its `ackedAtMs` (the relay's clock, milliseconds since the
 * epoch): sent_at says when Kafka took the row, not when the mark got its turn on the connection.
 * A row another relay marked first keeps its time.
 */
export function markSent(sql: Sql, ids: readonly string[], ackedAtMs: readonly number[]): Promise<unknown> {
  return run(sql`update ferry_outbox o set sent_at = to_timestamp(a.ms / 1000.0)
    from unnest(${ids as string[]}::bigint[], ${ackedAtMs as number[]}::float8[]) as a(id, ms)
    where o.id = a.id and o.sent_at is null`);
}

/**
 * Rows Kafka acknowledged, deleted (FERRY_OUTBOX_RETENTION_HOURS 0): a delete only marks the row
 * dead, where marking it sent writes a new version of the whole row and of three of its index
 * entries, the relay's largest cost in PostgreSQL.
 */
export function deleteSent(sql: Sql, ids: readonly string[]): Promise<unknown> {
  return run(sql`delete from ferry_outbox where id = any(${ids as string[]}::bigint[]) and sent_at is null and failed_at is null`);
}

/** Sets a row Kafka refused for what it is aside: never read again, kept (not pruned) with Kafka's reason. */
export function markFailed(sql: Sql, id: string, failure: { code: string; message: string }): Promise<unknown> {
  return run(
    sql`update ferry_outbox set failed_at = clock_timestamp(), failure = ${JSON.stringify(failure)}::text::jsonb where id = ${id}::bigint and sent_at is null`,
  );
}

export interface OutboxBacklog {
  /** Rows waiting to be sent. */
  rows: number;
  /** The age of the oldest of them, in milliseconds (0 when none). */
  oldestMs: number;
  /** Rows set aside: Kafka refused them for what they are (`failed_at`). */
  failed: number;
}

export async function outboxBacklog(sql: Sql): Promise<OutboxBacklog> {
  const [row] = await run(sql<{ rows: number; oldest_ms: number | null; failed: number }[]>`
    select
      (select count(*)::int from ferry_outbox where sent_at is null and failed_at is null) as rows,
      (select (extract(epoch from now() - min(created_at)) * 1000)::float8 from ferry_outbox where sent_at is null and failed_at is null) as oldest_ms,
      (select count(*)::int from ferry_outbox where failed_at is not null) as failed`);
  return { rows: row?.rows ?? 0, oldestMs: Math.max(0, Math.round(row?.oldest_ms ?? 0)), failed: row?.failed ?? 0 };
}

/** Deletes at most `limit` rows sent longer ago than the retention; returns how many. */
export async function pruneOutboxChunk(sql: Sql, retentionHours: number, limit: number): Promise<number> {
  const deleted = await run(sql`delete from ferry_outbox where id in (
    select id from ferry_outbox where sent_at < now() - make_interval(hours => ${retentionHours}) limit ${limit})`);
  return deleted.count;
}

export interface PublishedRow {
  event_id: string;
  source_event_id: string;
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Every row one handler published, sent or not, in publish (id) order: what ferry/testing shows a test. */
export function publishedBy(sql: Sql, handler: string): Promise<PublishedRow[]> {
  return run(sql<PublishedRow[]>`select event_id, source_event_id, topic, key, value, headers from ferry_outbox where handler = ${handler} order by id`);
}

/** Outbox ids are bigints as text: compared as numbers ("1000" after "999"); no rows (a mark's failure) first. */
export function compareOutboxIds(a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const [x, y] = [BigInt(a), BigInt(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
