import type { Sql } from "postgres";
import { readOffsets, resetOffset } from "../db/sql/offsets.ts";
import { coerceError } from "../errors.ts";
import { partitionKey, type TopicPartition, type TopicPartitionOffset } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { decideResume, type LogBounds, type LogChange } from "./log-changes.ts";

export type PositionChange = TopicPartition & { change: Exclude<LogChange, { kind: "in-range" }> };

/**
 * Where each assigned partition resumes: PostgreSQL's next offset when it is ahead of the group's
 * Kafka commit (a crash between the two commits: replay nothing), Kafka's when an operator moved
 * the group forward. A Kafka commit left behind is caught up through `offer` (the commit
 * coalescer, whose offers only move forward), or the group would show lag for work that is done
 * until the partition receives a new record.
 *
 * A partition PostgreSQL holds nothing for resumes from Kafka's commit (a group Ferry takes over).
 *
 * Then checked against the log as its leader has it now (log-changes.ts): below the log start the
 * partition goes on from there (records deleted unread), beyond the end it is read again from the
 * start (the log was replaced); PostgreSQL's offset is set there before any batch runs, and each
 * such change is handed to `onChange` to be said. `logReplaced`: the lane already saw the new log
 * (a record below its offset), the partition starts from the log start whatever its end says now.
 */
export async function resumePositions(
  partitions: TopicPartition[],
  deps: {
    sql: Sql;
    groupId: string;
    log: Logger;
    committedInKafka(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>;
    offer(offset: TopicPartitionOffset): void;
    /** Each partition's bounds as its leader says now (absent: unknown); a failure leaves them all unknown. */
    logBounds(partitions: TopicPartition[]): Promise<Map<string, LogBounds>>;
    onChange(change: PositionChange): void;
  },
  { logReplaced = false }: { logReplaced?: boolean } = {},
): Promise<TopicPartitionOffset[]> {
  const inPostgres = await readOffsets(deps.sql, deps.groupId, partitions).catch((e: unknown) => {
    // Resumed from Kafka's commit instead: the inbox keeps what was applied since harmless.
    deps.log.warn("partitions:offsets-unavailable", { error: coerceError(e) });
    return [];
  });
  // Asked even when PostgreSQL holds nothing: a group Ferry takes over resumes from Kafka's commit,
  // which retention may have passed too.
  const kafkaCommitted = await deps.committedInKafka(partitions).catch((e: unknown) => {
    deps.log.warn("partitions:kafka-offsets-unavailable", { error: coerceError(e) });
    return null;
  });
  const inKafka = new Map((kafkaCommitted ?? []).map((c) => [partitionKey(c), c.offset]));
  const inPg = new Map(inPostgres.map((p) => [partitionKey(p), p.offset]));
  const known = partitions.filter((tp) => inPg.has(partitionKey(tp)) || inKafka.has(partitionKey(tp)));
  if (known.length === 0) return [];
  const allBounds = await deps.logBounds(known).catch((e: unknown) => {
    // Unchecked: the client still goes on from the log start below them (auto.offset.reset=earliest),
    // and the lanes report the records skipped or the log replaced when the records arrive.
    deps.log.warn("partitions:log-bounds-unavailable", { partitions: known.map(partitionKey), error: coerceError(e) });
    return new Map<string, LogBounds>();
  });
  const positions = await Promise.all(
    known.map(async ({ topic, partition }) => {
      const tp = { topic, partition };
      const pg = inPg.get(partitionKey(tp));
      const kafka = inKafka.get(partitionKey(tp));
      const bounds = allBounds.get(partitionKey(tp)) ?? { logStart: "-1", logEnd: "-1" };
      const decided = decideResume({ pg, kafka, bounds, logReplaced });
      if (!decided) return undefined;
      const { offset, change } = decided;
      const position = { ...tp, offset };
      if (change.kind !== "in-range") {
        // Before any batch: the admin view's lag and a restart start from here too.
        // Not written (PostgreSQL down): the partition's first batch writes it.
        await resetOffset(deps.sql, deps.groupId, position).catch((e: unknown) =>
          deps.log.warn("partition:offset-reset-failed", { partition: partitionKey(tp), offset, error: coerceError(e) }),
        );
        deps.onChange({ ...tp, change });
      }
      const kafkaBehind = pg !== undefined && (kafka === undefined || BigInt(kafka) < BigInt(pg));
      if (change.kind !== "in-range" || kafkaBehind) deps.offer(position);
      return position;
    }),
  );
  return positions.filter((p) => p !== undefined);
}
