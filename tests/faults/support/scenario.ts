import { randomUUID } from "node:crypto";
import type postgres from "postgres";
import { startFerry, type FerryProcess } from "../../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../../support/handlers.ts";
import { check, type KeyedRow, type OffsetSnapshot, type Produced } from "./checker.ts";
import type { FaultKafka } from "./kafka.ts";
import { keepLog } from "./report.ts";
import { explainingFailure, waitFor } from "../../support/wait.ts";

/**
 * One fault scenario: a topic (RF 3, min.insync.replicas=2) and its dead letter topic on the
 * given cluster, the effects handler over its own table, and a group prefix of its own. Workers
 * it starts are tracked: `cleanup()` kills leftovers and keeps their output for a post-mortem.
 */
export async function faultScenario(
  name: string,
  deps: { kafka: FaultKafka; sql: postgres.Sql; databaseUrl?: string },
  {
    partitions = 4,
    retry = "{ attempts: 3, backoffMs: 20, maxBackoffMs: 200 }",
    timeoutMs,
    env = {},
    handlerOptions,
    handlerExtra,
  }: {
    partitions?: number;
    retry?: string;
    timeoutMs?: number;
    env?: Record<string, string>;
    /** More options of the effects handler, as source (e.g. its `concurrency`). */
    handlerOptions?: string;
    /** Code run first in the effects handler's `handle(p, ctx)`. */
    handlerExtra?: string;
  } = {},
) {
  const id = randomUUID().slice(0, 8);
  const topic = await deps.kafka.createTopic(`faults-${name}`, partitions);
  const table = `faults_${name.replace(/[^a-z0-9]/g, "_")}_${id}`;
  const handlersDir = writeHandlersDir(
    {
      "record-effect.ts": effectsHandler({
        topic,
        table,
        businessKey: true,
        retry,
        ...(timeoutMs ? { timeoutMs } : {}),
        ...(handlerOptions ? { options: handlerOptions } : {}),
        ...(handlerExtra ? { extra: handlerExtra } : {}),
      }),
    },
    { [`0001_${table}.sql`]: effectsTableMigration(table) },
  );
  const groupPrefix = `faults-${name}-${id}`;
  const groupId = `${groupPrefix}.record-effect`;
  const workers: FerryProcess[] = [];
  const { sql, kafka } = deps;

  return {
    topic,
    table,
    groupId,
    workers,
    /** Starts `ferry run` on this scenario's cluster (and database, when given). */
    start(extra: Record<string, string> = {}): FerryProcess {
      const worker = startFerry(["run", "--handlers", handlersDir, "--group-prefix", groupPrefix], {
        FERRY_KAFKA_BROKERS: kafka.brokers,
        ...(deps.databaseUrl ? { FERRY_DATABASE_URL: deps.databaseUrl } : {}),
        FERRY_BATCH_SIZE: "100",
        ...env,
        ...extra,
      });
      workers.push(worker);
      return worker;
    },
    /** One row per application of an event. */
    async applied() {
      return (await sql<{ event_id: string }[]>`select event_id from ${sql(table)}`).map((r) => ({ eventId: r.event_id }));
    },
    /**
     * Every effect row in the order it was written (one key's events commit one after the other),
     * with its Kafka key and, as its sequence number, the offset its event was acknowledged at:
     * within a partition, the order a producer's events of one key were written in.
     */
    async appliedInOrder(produced: readonly Produced[]): Promise<KeyedRow[]> {
      const offsetOf = new Map<string, number>();
      for (const p of produced) if (p.ack && p.eventId !== null && !offsetOf.has(p.eventId)) offsetOf.set(p.eventId, Number(p.ack.offset));
      const rows = await sql<{ event_id: string; kafka_key: string | null }[]>`select event_id, kafka_key from ${sql(table)} order by id`;
      return rows.map((r) => ({ key: r.kafka_key, seq: offsetOf.get(r.event_id) ?? -1 }));
    },
    async count(): Promise<number> {
      return (await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`)[0]!.n;
    },
    /**
     * Done: PostgreSQL's offsets, the ones the worker resumes from, have reached every
     * partition's end (every record applied, skipped or dead-lettered: dead letters are
     * acknowledged before the offset that skips them commits).
     */
    async caughtUp(): Promise<boolean> {
      return (await this.behind()).length === 0;
    },
    /** The partitions whose PostgreSQL offset is short of their end, with both. */
    async behind(): Promise<Array<{ partition: number; next: string; end: string }>> {
      const ends = await kafka.ends(topic);
      const rows = await sql<{ partition: number; next_offset: string }[]>`
        select partition, next_offset from ferry_offsets where group_id = ${groupId} and topic = ${topic}`;
      const next = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
      return [...ends]
        .filter(([p, end]) => (next.get(p) ?? 0n) < end)
        .map(([partition, end]) => ({ partition, next: String(next.get(partition) ?? 0n), end: String(end) }));
    },
    /**
     * Waits for `caughtUp()`. On a timeout the error says which partitions are behind and what the
     * workers said about them (warnings, errors, assignments): a stall in CI is otherwise a bare timeout.
     */
    async waitCaughtUp(what: string, timeoutMs: number): Promise<void> {
      await explainingFailure(
        () => waitFor(what, () => this.caughtUp(), { timeoutMs, intervalMs: 250 }),
        () => this.stallReport(),
      );
    },
    async stallReport(): Promise<string> {
      const behind = await this.behind().catch((e: unknown) => String(e));
      const said = workers.map((w, i) => {
        const lines = w.logs.filter((l) => l.level === "warn" || l.level === "error" || String(l.msg).startsWith("partitions:"));
        return `worker ${i} (exit ${w.proc.exitCode ?? w.proc.signalCode ?? "running"}): ${lines.length} lines, the last 40:\n${lines
          .slice(-40)
          .map((l) => JSON.stringify(l).slice(0, 600))
          .join("\n")}`;
      });
      return [`behind: ${JSON.stringify(behind)}`, ...said].join("\n");
    },
    /**
     * Kafka's committed offsets follow PostgreSQL's (for lag and tooling): waits up to `graceMs`
     * for them to reach every end, then returns how many partitions are still behind.
     */
    async kafkaPartitionsBehind(graceMs = 30_000): Promise<number> {
      const deadline = Date.now() + graceMs;
      for (;;) {
        const [ends, committed] = await Promise.all([kafka.ends(topic), kafka.committed(groupId, topic)]);
        const behind = [...ends].filter(([p, end]) => (committed.get(p) ?? 0n) < end).length;
        if (behind === 0 || Date.now() > deadline) return behind;
        await Bun.sleep(250);
      }
    },
    /** Kafka's committed offsets first, then PostgreSQL's offsets and effects in one snapshot (see offsetsAhead). */
    async snapshot(): Promise<OffsetSnapshot> {
      const kafkaCommitted = await kafka.committed(groupId, topic);
      return sql.begin("isolation level repeatable read", async (tx) => {
        const offsets = await tx<{ partition: number; next_offset: string }[]>`
          select partition, next_offset from ferry_offsets where group_id = ${groupId} and topic = ${topic}`;
        const rows = await tx<{ event_id: string }[]>`select event_id from ${tx(table)}`;
        return {
          kafkaCommitted,
          postgresNext: new Map(offsets.map((o) => [o.partition, BigInt(o.next_offset)])),
          applied: new Set(rows.map((r) => r.event_id)),
        };
      });
    },
    /** The checker's verdict: what was acknowledged against the effects table and the dead letter topic. */
    async check(produced: readonly Produced[]) {
      const report = check(produced, await this.applied(), await kafka.readDeadLetters(`${topic}.dlt`));
      return { ...report, kafkaPartitionsBehind: await this.kafkaPartitionsBehind() };
    },
    /** How often each fault point fired, from the workers' fault:injected lines. */
    faultsFired(): Record<string, number> {
      const fired: Record<string, number> = {};
      for (const w of workers) for (const l of w.logs) if (l.msg === "fault:injected") fired[String(l.point)] = (fired[String(l.point)] ?? 0) + 1;
      return fired;
    },
    async cleanup() {
      for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
      await Promise.all(workers.map((w) => w.exited));
      keepLog(`${name}-${id}`, workers.map((w, i) => `=== worker ${i}\n${w.output()}`).join("\n"));
      await sql.unsafe(`drop table if exists ${table}`).catch(() => undefined);
    },
  };
}

export type FaultScenario = Awaited<ReturnType<typeof faultScenario>>;
