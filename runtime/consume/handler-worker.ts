import type { Sql } from "postgres";
import type { EngineEventMap, EngineEvents } from "../engine-events.ts";
import { coerceError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import {
  partitionKey,
  type BatchProgress,
  type KafkaPort,
  type PartitionBatch,
  type ProducerPort,
  type TopicPartition,
  type TopicPartitionOffset,
} from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { EventResult } from "../inbox/unit-of-work.ts";
import type { AvroDecoding } from "../registry/handler-avro.ts";
import { isInfrastructureFailure } from "./classify.ts";
import { prepareRecord } from "./prepare.ts";
import { processPrepared, type BatchOutcome, type PendingRetry } from "./process-batch.ts";
import { createKafkaCommits } from "./kafka-commits.ts";
import { sleep } from "./sleep.ts";
import type { FerryConfig } from "../config/load.ts";
import { createFaultInjector } from "../faults/inject.ts";

/** The part of Ferry's configuration a worker reads (the engine hands it the whole config). */
export type WorkerSettings = Pick<
  FerryConfig,
  "groupPrefix" | "batchSize" | "partitionConcurrency" | "eventIdHeader" | "missingEventId" | "deadLetterSuffix" | "faultInject"
>;

/** A handler's whole subscription (no `topic`), one topic, or some partitions of it. */
export interface PauseTarget {
  topic?: string;
  partitions?: number[];
}

export interface HandlerWorker {
  readonly handler: LoadedHandler;
  readonly groupId: string;
  /** True once the group has handed this worker its first assignment (possibly empty). */
  readonly joined: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** An operator's pause: it holds across retry backoffs and re-assignments until `resume`. */
  pause(target?: PauseTarget): void;
  resume(target?: PauseTarget): void;
  /** The partitions assigned to this worker now, and whether an operator paused each. */
  assignment(): Array<{ topic: string; partition: number; paused: boolean }>;
  /** Whether an operator paused this handler's topics as a whole. */
  readonly paused: boolean;
}

export const groupIdFor = (prefix: string, handlerName: string) => `${prefix}.${handlerName}`;

type Tally = Omit<EngineEventMap["batch:applied"], "handler" | "topic" | "partition" | "durationMs">;
const emptyTally: Tally = { records: 0, skipped: 0, applied: 0, technicalDuplicates: 0, functionalDuplicates: 0, deadLettered: 0 };

/** How long a partition's new offset may wait to reach Kafka, coalesced with the other partitions'. */
const KAFKA_COMMIT_INTERVAL_MS = 1_000;
const lastOffsetPlusOne = (batch: PartitionBatch) => (BigInt(batch.records[batch.records.length - 1]!.offset) + 1n).toString();

/**
 * Runs one handler: its own consumer group (so handlers fail, pause and scale independently),
 * batches per partition, and the commit order PostgreSQL first, Kafka second.
 */
export function createHandlerWorker(deps: {
  handler: LoadedHandler;
  kafka: KafkaPort;
  producer: ProducerPort;
  sql: Sql;
  settings: WorkerSettings;
  log: Logger;
  /** For format "avro": fetches the batch's writer schemas (async), then decodes (sync). */
  avro?: AvroDecoding;
  events?: EngineEvents;
  onEvent?(handler: string, result: EventResult | { kind: "dead-lettered"; reason: string }): void;
}): HandlerWorker {
  const { handler, settings, sql } = deps;
  const groupId = groupIdFor(settings.groupPrefix, handler.name);
  const log = deps.log.child({ handler: handler.name, group: groupId });
  // Test-only: undefined unless FERRY_FAULT_INJECT armed it, so every `faults?.(point)` costs nothing.
  const faults = settings.faultInject ? createFaultInjector(settings.faultInject) : undefined;
  if (settings.faultInject) log.warn("faults:armed", { points: settings.faultInject });
  const abort = new AbortController();
  // The next offset PostgreSQL holds per assigned partition: records below it were applied already.
  const applied = new Map<string, bigint>();
  const emit: EngineEvents["emit"] = (name, payload) => deps.events?.emit(name, payload);
  let joined = false;
  const pausedTopics = new Set<string>();

  const onAssign = async (partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> => {
    const startedAt = performance.now();
    const rows = await sql<{ topic: string; partition: number; next_offset: string }[]>`
      select o.topic, o.partition, o.next_offset from ferry_offsets o
      join unnest(${partitions.map((p) => p.topic)}::text[], ${partitions.map((p) => p.partition)}::int[]) as a(topic, partition)
        on o.topic = a.topic and o.partition = a.partition
      where o.group_id = ${groupId}`.catch((e: unknown) => {
      log.warn("partitions:offsets-unavailable", { error: coerceError(e) });
      return [];
    });
    const positions = await resumePositions(rows, partitions);
    for (const p of positions) applied.set(partitionKey(p), BigInt(p.offset));
    // The group waits for this member while its positions are read: a slow read shows here.
    log.info("partitions:assigned", { partitions: partitions.map(partitionKey), positionsMs: Math.round(performance.now() - startedAt) });
    joined = true;
    emit("partitions:assigned", { handler: handler.name, partitions });
    return positions;
  };

  /**
   * Where each assigned partition resumes: PostgreSQL's next offset when it is ahead of the
   * group's Kafka commit (a crash between the two commits: replay nothing), Kafka's when an
   * operator moved the group forward. A Kafka commit left behind is caught up, or the group
   * would show lag for work that is done until the partition receives a new record.
   */
  const resumePositions = async (rows: Array<{ topic: string; partition: number; next_offset: string }>, partitions: TopicPartition[]) => {
    if (rows.length === 0) return [];
    const kafkaCommitted = await consumer.committed(partitions, 5_000).catch((e: unknown) => {
      log.warn("partitions:kafka-offsets-unavailable", { error: coerceError(e) });
      return null;
    });
    const inKafka = new Map((kafkaCommitted ?? []).map((c) => [partitionKey(c), BigInt(c.offset)]));
    const positions: TopicPartitionOffset[] = [];
    const behind: TopicPartitionOffset[] = [];
    for (const r of rows) {
      const pg = BigInt(r.next_offset);
      const kafka = inKafka.get(partitionKey(r));
      const resumeAt = kafka !== undefined && kafka > pg ? kafka : pg;
      positions.push({ topic: r.topic, partition: r.partition, offset: resumeAt.toString() });
      if (kafka === undefined || kafka < pg) behind.push({ topic: r.topic, partition: r.partition, offset: resumeAt.toString() });
    }
    if (behind.length > 0) void catchUpKafka(behind);
    return positions;
  };

  /**
   * Offers Kafka what PostgreSQL already holds. Through the same coalescer as every batch's
   * offset: offers only move forward, so a catch-up that comes late can never commit an offset
   * lower than one a batch has committed since (seen in the rebalance storm: Kafka's commit went
   * back and stayed behind PostgreSQL's); one refused inside the rebalance is offered again.
   */
  const catchUpKafka = (offsets: TopicPartitionOffset[]) => {
    for (const o of offsets) void kafkaCommits.offer(o);
  };

  const consumer = deps.kafka.consumer({
    groupId,
    topics: handler.topics,
    maxBatchSize: settings.batchSize,
    partitionConcurrency: settings.partitionConcurrency,
    onAssign,
    onRevoke: async (partitions, { lost }) => {
      // Still the owner: what PostgreSQL holds reaches Kafka now, or the group would show lag for
      // done work until the partition's next record. A lost partition has a new owner already.
      if (!lost) await kafkaCommits.flush({ readBack: false });
      for (const p of partitions) {
        applied.delete(partitionKey(p));
        retries.delete(partitionKey(p));
      }
      kafkaCommits.forget(partitions);
      log.info("partitions:revoked", { partitions: partitions.map(partitionKey) });
      emit("partitions:revoked", { handler: handler.name, partitions });
    },
    // Only while running: a loop that ends because the worker stops (a swap, a shutdown) did not fail.
    onFailure: (error) => {
      if (!abort.signal.aborted) emit("consumer:failed", { handler: handler.name, message: error.message });
    },
  });

  // A failing event waiting out its backoff, per partition (the partition is paused meanwhile).
  const retries = new Map<string, PendingRetry>();
  // PostgreSQL first, Kafka second: only offsets already committed in PostgreSQL are offered.
  const kafkaCommits = createKafkaCommits({
    commit: (offsets) => consumer.commit(offsets),
    committed: (offsets) => consumer.committed(offsets, 5_000),
    intervalMs: KAFKA_COMMIT_INTERVAL_MS,
    onCommitted: (offsets, durationMs) => {
      for (const o of offsets) emit("offsets:committed", { handler: handler.name, topic: o.topic, partition: o.partition, offset: o.offset, durationMs });
    },
    onFailed: (offsets, e) => log.warn("offsets:kafka-commit-failed", { partitions: offsets.map(partitionKey), error: coerceError(e) }),
  });

  const eachBatch = async (batch: PartitionBatch): Promise<BatchProgress> => {
    const where = { handler: handler.name, topic: batch.topic, partition: batch.partition };
    const startedAt = performance.now();
    emit("batch:started", { ...where, records: batch.records.length });
    try {
      const progress = await processBatch(batch);
      emit("batch:applied", { ...where, ...tallyOf(batch), durationMs: performance.now() - startedAt });
      return progress;
    } catch (e) {
      emit("batch:failed", { ...where, durationMs: performance.now() - startedAt });
      throw e;
    }
  };

  const tallies = new WeakMap<PartitionBatch, Tally>();
  const tallyOf = (batch: PartitionBatch): Tally => tallies.get(batch) ?? { ...emptyTally, records: batch.records.length };

  const processBatch = async (batch: PartitionBatch): Promise<BatchProgress> => {
    const key = partitionKey(batch);
    let outcome: BatchOutcome = { kind: "done" };
    const tally: Tally = { ...emptyTally, records: batch.records.length };
    tallies.set(batch, tally);
    const count = (result: EventResult | { kind: "dead-lettered"; reason: string }) => {
      if (result.kind === "applied") tally.applied++;
      else if (result.kind === "technical-duplicate") tally.technicalDuplicates++;
      else if (result.kind === "functional-duplicate") tally.functionalDuplicates++;
      else tally.deadLettered++;
      const reason = result.kind === "dead-lettered" ? result.reason : result.kind === "applied" || result.kind === "technical-duplicate" ? null : result.kind;
      if (reason) emit("event:dead-lettered", { handler: handler.name, topic: batch.topic, partition: batch.partition, reason });
      deps.onEvent?.(handler.name, result);
    };
    for (let outage = 0; ; outage++) {
      const floor = applied.get(key);
      // Records below PostgreSQL's offset were applied already (a crash between the two commits).
      const records = floor === undefined ? batch.records : batch.records.filter((r) => BigInt(r.offset) >= floor);
      tally.skipped = batch.records.length - records.length;
      try {
        if (records.length > 0) {
          // A registry outage here is infrastructure: the batch waits, nothing is dead-lettered.
          await deps.avro?.warm(records);
          const prepared = records.map((r) =>
            prepareRecord(r, {
              eventIdHeader: settings.eventIdHeader,
              missingEventId: settings.missingEventId,
              format: handler.format,
              ...(deps.avro ? { avro: deps.avro.decode } : {}),
            }),
          );
          outcome = await processPrepared(
            prepared,
            {
              sql,
              handler,
              groupId,
              producer: deps.producer,
              deadLetterSuffix: settings.deadLetterSuffix,
              log,
              signal: abort.signal,
              onCommitted: (next) => applied.set(key, BigInt(next)),
              onEvent: count,
              ...(faults ? { faults } : {}),
            },
            retries.get(key),
          );
        }
        break;
      } catch (e) {
        // Not the event's fault: never dead-letter, never commit past it. Wait and try again
        // until it works, the partition is revoked or the worker stops.
        if (abort.signal.aborted || batch.isStale() || !isInfrastructureFailure(e)) throw e;
        const delayMs = Math.min(30_000, 500 * 2 ** Math.min(outage, 6));
        log.warn("batch:infrastructure-failure", { partition: key, error: coerceError(e), retryInMs: delayMs });
        await sleep(delayMs, abort.signal);
      }
    }
    log.debug("batch:applied", { partition: key, ...tally, ...(outcome.kind === "retry-later" ? { retryAt: outcome.offset } : {}) });
    const next = outcome.kind === "retry-later" ? outcome.offset : lastOffsetPlusOne(batch);
    if (outcome.kind === "retry-later") {
      retries.set(key, outcome.retry);
      emit("event:retry-scheduled", {
        handler: handler.name,
        topic: batch.topic,
        partition: batch.partition,
        offset: outcome.offset,
        attempt: outcome.retry.attempts + 1,
        delayMs: outcome.delayMs,
      });
    } else retries.delete(key);
    faults?.("db-committed");
    if (!batch.isStale() && next !== batch.records[0]?.offset) {
      await kafkaCommits.offer({ topic: batch.topic, partition: batch.partition, offset: next });
    }
    return outcome.kind === "retry-later" ? { stopAt: outcome.offset, resumeAfterMs: outcome.delayMs } : undefined;
  };

  const targets = (target: PauseTarget = {}) =>
    target.topic === undefined
      ? handler.topics.map((topic) => ({ topic }))
      : [{ topic: target.topic, ...(target.partitions ? { partitions: target.partitions } : {}) }];

  return {
    handler,
    groupId,
    get joined() {
      return joined;
    },
    get paused() {
      return handler.topics.every((t) => pausedTopics.has(t));
    },
    pause(target) {
      consumer.pause(targets(target));
      if (!target?.partitions) for (const t of targets(target)) pausedTopics.add(t.topic);
      log.info("handler:paused", { ...target });
      emit("handler:paused", { handler: handler.name, ...target });
    },
    resume(target) {
      consumer.resume(targets(target));
      if (!target?.partitions) for (const t of targets(target)) pausedTopics.delete(t.topic);
      log.info("handler:resumed", { ...target });
      emit("handler:resumed", { handler: handler.name, ...target });
    },
    assignment: () => consumer.assignment().map((tp) => ({ ...tp, paused: consumer.isPaused(tp.topic, tp.partition) })),
    async start() {
      await consumer.start(eachBatch);
      log.info("handler:started", { topics: handler.topics });
    },
    async stop() {
      abort.abort(new Error("the worker is stopping"));
      // What PostgreSQL holds reaches Kafka before the group is left; batches still finishing commit at once.
      await kafkaCommits.stop();
      await consumer.stop();
      log.info("handler:stopped");
    },
  };
}
