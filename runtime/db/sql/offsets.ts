import type { Sql, TransactionSql } from "postgres";
import type { TopicPartition, TopicPartitionOffset } from "../../kafka/port.ts";
import { run } from "./run.ts";

/**
 * The next offset of a partition for a consumer group, written in the same transaction as the
 * effects: a crash between the database commit and the Kafka commit replays nothing. Written
 * here, or by advanceOffset (key-level concurrency) only. Returns the query already on the wire (pipelined).
 */
export function saveOffset(tx: TransactionSql, groupId: string, position: TopicPartitionOffset): Promise<unknown> {
  return writeOffset(tx, groupId, position);
}

/** The partition's next offset set to `position`, forward or back. */
function writeOffset(db: Sql | TransactionSql, groupId: string, position: TopicPartitionOffset): Promise<unknown> {
  return run(
    db`insert into ferry_offsets (group_id, topic, partition, next_offset)
      values (${groupId}, ${position.topic}, ${position.partition}, ${position.offset})
      on conflict (group_id, topic, partition)
      do update set next_offset = excluded.next_offset, updated_at = now()`.execute(),
  );
}

/**
 * Moves a partition's next offset forward, in a statement of its own: key-level concurrency
 * stores the prefix of events done without a gap after their own transactions committed. Only
 * forward: those writes may overlap, and an older prefix landing last must not move it back.
 */
export function advanceOffset(sql: Sql, groupId: string, position: TopicPartitionOffset): Promise<unknown> {
  return run(
    sql`insert into ferry_offsets (group_id, topic, partition, next_offset)
      values (${groupId}, ${position.topic}, ${position.partition}, ${position.offset})
      on conflict (group_id, topic, partition)
      do update set next_offset = excluded.next_offset, updated_at = now()
      where ferry_offsets.next_offset < excluded.next_offset`.execute(),
  );
}

/**
 * Sets a partition's next offset where the log under it says (consume/log-changes.ts): past records
 * deleted unread, or back to the start of a log that replaced the one the offset was counted in.
 * Back is allowed here only: written at assignment, before any batch of the partition runs.
 */
export function resetOffset(sql: Sql, groupId: string, position: TopicPartitionOffset): Promise<unknown> {
  return writeOffset(sql, groupId, position);
}

/** The next offsets PostgreSQL holds for these partitions of a group (absent: never applied). */
export async function readOffsets(sql: Sql, groupId: string, partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
  const rows = await run(sql<{ topic: string; partition: number; next_offset: string }[]>`
    select o.topic, o.partition, o.next_offset::text from ferry_offsets o
    join unnest(${partitions.map((p) => p.topic)}::text[], ${partitions.map((p) => p.partition)}::int[]) as a(topic, partition)
      on o.topic = a.topic and o.partition = a.partition
    where o.group_id = ${groupId}`);
  return rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.next_offset }));
}

/** Every partition's next offset for these groups: the admin view and the lag. */
export function readGroupOffsets(sql: Sql, groupIds: string[]): Promise<Array<{ group_id: string; topic: string; partition: number; next_offset: string }>> {
  return run(sql<{ group_id: string; topic: string; partition: number; next_offset: string }[]>`
    select group_id, topic, partition, next_offset::text from ferry_offsets where group_id = any(${groupIds}::text[])`);
}

/**
 * `ferry dev` starts an empty in-memory cluster: stored positions would skip its new records.
 * Plain statements for PGlite's own client, before anything connects over the wire.
 */
export const forgetAllOffsetsStatements = {
  exists: "select to_regclass('ferry_offsets') is not null as exists",
  forget: "delete from ferry_offsets",
} as const;
