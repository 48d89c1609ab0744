import type { Sql } from "postgres";
import { readOffsets } from "../db/sql/offsets.ts";
import { coerceError } from "../errors.ts";
import { partitionKey, type TopicPartition, type TopicPartitionOffset } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Where each assigned partition resumes: PostgreSQL's next offset when it is ahead of the group's
 * Kafka commit (a crash between the two commits: replay nothing), Kafka's when an operator moved
 * the group forward. A Kafka commit left behind is caught up through `offer` (the commit
 * coalescer, whose offers only move forward), or the group would show lag for work that is done
 * until the partition receives a new record.
 */
export async function resumePositions(
  partitions: TopicPartition[],
  deps: {
    sql: Sql;
    groupId: string;
    log: Logger;
    committedInKafka(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]>;
    offer(offset: TopicPartitionOffset): void;
  },
): Promise<TopicPartitionOffset[]> {
  const inPostgres = await readOffsets(deps.sql, deps.groupId, partitions).catch((e: unknown) => {
    // Resumed from Kafka's commit instead: the inbox keeps what was applied since harmless.
    deps.log.warn("partitions:offsets-unavailable", { error: coerceError(e) });
    return [];
  });
  if (inPostgres.length === 0) return [];
  const kafkaCommitted = await deps.committedInKafka(partitions).catch((e: unknown) => {
    deps.log.warn("partitions:kafka-offsets-unavailable", { error: coerceError(e) });
    return null;
  });
  const inKafka = new Map((kafkaCommitted ?? []).map((c) => [partitionKey(c), BigInt(c.offset)]));
  const positions: TopicPartitionOffset[] = [];
  for (const p of inPostgres) {
    const pg = BigInt(p.offset);
    const kafka = inKafka.get(partitionKey(p));
    const resumeAt = kafka !== undefined && kafka > pg ? kafka : pg;
    positions.push({ topic: p.topic, partition: p.partition, offset: resumeAt.toString() });
    if (kafka === undefined || kafka < pg) deps.offer({ topic: p.topic, partition: p.partition, offset: resumeAt.toString() });
  }
  return positions;
}
