import { randomUUID } from "node:crypto";
import path from "node:path";
import type postgres from "postgres";
import type { KafkaRecord } from "../../runtime/kafka/port.ts";
import { startFerry, type FerryProcess } from "./ferry-process.ts";
import { batchEffectsHandler, effectsHandler, effectsTableMigration, writeHandlersDir } from "./handlers.ts";
import type { testKafka } from "./kafka.ts";
import { explainingFailure, waitFor } from "./wait.ts";
import { createLaneConsumer } from "../../runtime/consume/lane-consumer.ts";

type TestKafka = Awaited<ReturnType<typeof testKafka>>;

export interface EffectRow {
  id: string;
  event_id: string;
  n: number;
  kafka_key: string | null;
  biz_key: string;
  seq: number;
  attempt: number;
  applied_at: Date;
}

/**
 * One test's world: a topic (+ its dead letter topic), an effects table, a handlers directory with
 * the effects handler, and a consumer-group prefix of its own. Processes it starts are tracked so
 * `cleanup()` can kill leftovers.
 */
export async function createScenario(
  name: string,
  deps: { kafka: TestKafka; sql: postgres.Sql },
  {
    partitions = 3,
    businessKey = false,
    retry,
    extraEnv = {},
    batch = false,
    timeoutMs,
  }: { partitions?: number; businessKey?: boolean; retry?: string; extraEnv?: Record<string, string>; batch?: boolean; timeoutMs?: number } = {},
) {
  const id = randomUUID().slice(0, 8);
  const topic = await deps.kafka.createTopic(name, partitions);
  const table = `effects_${name.replace(/[^a-z0-9]/g, "_")}_${id}`;
  const handlersDir = writeHandlersDir(
    {
      "record-effect.ts": batch
        ? batchEffectsHandler({ topic, table })
        : effectsHandler({ topic, table, businessKey, ...(retry ? { retry } : {}), ...(timeoutMs ? { timeoutMs } : {}) }),
    },
    { [`0001_${table}.sql`]: effectsTableMigration(table) },
  );
  const groupPrefix = `${name}-${id}`;
  const processes: FerryProcess[] = [];
  const { sql, kafka } = deps;

  return {
    topic,
    deadLetterTopic: `${topic}.dlt`,
    table,
    handlersDir,
    groupId: `${groupPrefix}.record-effect`,
    processes,
    start(env: Record<string, string> = {}, binary?: string) {
      const p = startFerry(
        ["run", "--handlers", handlersDir, "--group-prefix", groupPrefix],
        { ...extraEnv, ...env },
        binary ? { binary, cwd: path.dirname(binary) } : {},
      );
      processes.push(p);
      return p;
    },
    async count() {
      const [row] = await sql<{ rows: number; ids: number }[]>`select count(*)::int as rows, count(distinct event_id)::int as ids from ${sql(table)}`;
      return row!;
    },
    effects: () => sql<EffectRow[]>`select * from ${sql(table)} order by id`,
    /** Sum over partitions of the group's committed offsets in Kafka. */
    async committedInKafka() {
      const offsets = await kafka.admin.fetchCommittedOffsets(`${groupPrefix}.record-effect`, topic);
      return offsets.reduce((sum, o) => sum + Math.max(0, Number(o.offset)), 0);
    },
    /** Waits until the group has committed `total` records in Kafka (every partition's end). */
    async waitForCommitted(total: number, timeoutMs = 120_000) {
      await this.explainingTimeout(() =>
        waitFor(`${total} offsets committed by ${groupPrefix}`, async () => (await this.committedInKafka()) === total, { timeoutMs, intervalMs: 250 }),
      );
    },
    /** Waits until the effects table holds at least `rows` rows. */
    async waitForEffects(rows: number, timeoutMs = 120_000) {
      await this.explainingTimeout(() => waitFor(`${rows} effects in ${table}`, async () => (await this.count()).rows >= rows, { timeoutMs, intervalMs: 20 }));
    },
    /** A wait alone says nothing about which partition stalled or why: a failed one says where each stands. */
    async explainingTimeout(wait: () => Promise<unknown>) {
      await explainingFailure(wait, () => this.whereItStands());
    },
    /** Per partition: Kafka's end and committed offsets and PostgreSQL's, then each process's last lines. */
    async whereItStands() {
      const groupId = `${groupPrefix}.record-effect`;
      const [ends, inKafka, inPg] = await Promise.all([
        kafka.admin.fetchTopicOffsets(topic),
        kafka.admin.fetchCommittedOffsets(groupId, topic),
        sql<{ partition: number; next_offset: string }[]>`select partition, next_offset from ferry_offsets where group_id = ${groupId} and topic = ${topic}`,
      ]);
      const lines = ends
        .sort((a, b) => a.partition - b.partition)
        .map(
          (e) =>
            `  ${topic}:${e.partition} end ${e.high} kafka ${inKafka.find((k) => k.partition === e.partition)?.offset ?? "-"} postgres ${inPg.find((r) => r.partition === e.partition)?.next_offset ?? "-"}`,
        );
      const tails = processes.map((p, i) => {
        const out = p.output().trimEnd().split("\n").slice(-25).join("\n");
        return `--- process ${i + 1} (pid ${p.proc.pid}, exit ${p.proc.exitCode ?? p.proc.signalCode ?? "running"}), last lines:\n${out}`;
      });
      return [`partitions of ${topic} (group ${groupId}):`, ...lines, ...tails].join("\n");
    },
    readDeadLetters: (count: number, timeoutMs?: number) => readRecords(kafka, `${topic}.dlt`, count, timeoutMs),
    cleanup() {
      for (const p of processes) if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
    },
  };
}

/** Reads exactly `count` records of a topic from the beginning, in a throwaway group; fails on more or fewer. */
export async function readRecords(kafka: TestKafka, topic: string, count: number, timeoutMs = 60_000): Promise<KafkaRecord[]> {
  const records: KafkaRecord[] = [];
  const consumer = createLaneConsumer(kafka.kafka, { groupId: `reader-${randomUUID()}`, topics: [topic], maxBatchSize: 500, partitionConcurrency: 3 });
  await consumer.start(async (batch) => {
    records.push(...batch.records);
  });
  try {
    await waitFor(`${count} records on ${topic}`, () => records.length >= count, { timeoutMs });
    await Bun.sleep(500); // anything beyond `count` would have arrived by now
    return records;
  } finally {
    await consumer.stop();
  }
}

export const header = (record: KafkaRecord, name: string) => record.headers[name]?.toString();
