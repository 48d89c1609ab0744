import { randomUUID } from "node:crypto";
import type { KafkaPort } from "../kafka/port.ts";
import { parseDeadLetter, type DeadLetter } from "./dead-letter.ts";
import { createLaneConsumer } from "../consume/lane-consumer.ts";

/**
 * Reads a dead letter topic from its beginning up to its end as of now, in a throwaway group
 * that commits nothing. Records Ferry did not write are skipped.
 */
export async function readDeadLetters(kafka: KafkaPort, topic: string, { timeoutMs = 60_000 } = {}): Promise<DeadLetter[]> {
  const admin = await kafka.admin();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.stop();
  }
  const remaining = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  const letters: DeadLetter[] = [];
  if (remaining.size === 0) return letters;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const consumer = createLaneConsumer(kafka, { groupId: `ferry-browse-${randomUUID()}`, topics: [topic], maxBatchSize: 500, partitionConcurrency: 4 });
  await consumer.start(async (batch) => {
    const end = ends.get(batch.partition) ?? 0n;
    for (const record of batch.records) {
      if (BigInt(record.offset) >= end) break;
      const letter = parseDeadLetter(record);
      if (letter) letters.push(letter);
    }
    if (BigInt(batch.records[batch.records.length - 1]!.offset) + 1n >= end) remaining.delete(batch.partition);
    if (remaining.size === 0) finish();
  });
  const timer = setTimeout(finish, timeoutMs);
  try {
    await done;
    if (remaining.size > 0) throw new Error(`reading ${topic} timed out after ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
    await consumer.stop();
  }
  return letters.sort((a, b) => a.at.partition - b.at.partition || Number(BigInt(a.at.offset) - BigInt(b.at.offset)));
}
