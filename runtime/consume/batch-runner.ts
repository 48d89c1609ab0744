import type { Sql } from "postgres";
import type { EngineEventMap, EngineEvents } from "../engine-events.ts";
import { coerceError } from "../errors.ts";
import { decide, type Failure, waitDelay } from "../failure/policy.ts";
import type { FaultInjector } from "../faults/inject.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { partitionKey, type BatchProgress, type KafkaRecord, type PartitionBatch, type ProducerPort, type TopicPartitionOffset } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { AvroDecoding } from "../registry/handler-avro.ts";
import { duePrefix, headSightings } from "../retry/due.ts";
import { dueAtOf } from "../retry/envelope.ts";
import { prepareRetryRecord } from "../retry/prepare-retry.ts";
import type { RetryTopic } from "../retry/topics.ts";
import type { SettledResult } from "./move-past.ts";
import { type FailureFields, failureFields, newPartitionState, type PartitionState } from "./partition-state.ts";
import { prepareRecord } from "./prepare.ts";
import { type BatchDeps, processPrepared, type BatchOutcome } from "./process-batch.ts";
import { processByKey } from "./process-by-key.ts";
import type { Slots } from "./slots.ts";

type Tally = Omit<EngineEventMap["batch:applied"], "handler" | "topic" | "partition" | "durationMs">;
const emptyTally: Tally = { records: 0, skipped: 0, applied: 0, technicalDuplicates: 0, functionalDuplicates: 0, deadLettered: 0 };

export interface BatchRunnerDeps {
  handler: LoadedHandler;
  groupId: string;
  sql: Sql;
  producer: ProducerPort;
  settings: { eventIdHeader: string; missingEventId: "dead-letter" | "derive"; deadLetterSuffix: string; batchSize: number };
  log: Logger;
  /** For format "avro": fetches the batch's writer schemas (async), then decodes (sync). */
  avro?: AvroDecoding;
  emit: EngineEvents["emit"];
  onEvent?: BatchDeps["onEvent"];
  /** The failure policy's memory per assigned partition (created on assignment, dropped on revocation). */
  partitions: Map<string, PartitionState>;
  /** Key-level concurrency: the worker's database connections, shared by every handler and partition. */
  slots?: Slots;
  /** Key-level concurrency: stores a partition's next offset in PostgreSQL, only forward. */
  advanceOffset(position: TopicPartitionOffset): Promise<unknown>;
  /** PostgreSQL holds this offset: hand it to Kafka (coalesced). */
  offerToKafka(offset: TopicPartitionOffset): Promise<void>;
  signal: AbortSignal;
  faults?: FaultInjector;
  contention?: BatchDeps["contention"];
  outbox?: BatchDeps["outbox"];
  /** Contention backoffs: a real timer unless handed in (ferry/testing's fake clock). */
  sleep?: BatchDeps["sleep"];
  /** Every retry topic the worker reads for this handler: its stages and any leftovers (retry/topics.ts). */
  retryTopics: readonly RetryTopic[];
}

/**
 * Runs one partition batch for the lane consumer: skips what PostgreSQL already holds, decodes,
 * lets process-batch apply it, and turns its outcome into what the lane does next (go on, or wait
 * and redeliver from an offset). PostgreSQL first, Kafka second: only offsets committed in
 * PostgreSQL are offered to Kafka.
 */
export function createBatchRunner(deps: BatchRunnerDeps): (batch: PartitionBatch) => Promise<BatchProgress> {
  const { handler, settings, log, emit } = deps;
  const lastOffsetPlusOne = (batch: PartitionBatch) => (BigInt(batch.records[batch.records.length - 1]!.offset) + 1n).toString();

  // Retry topics this handler consumes besides its own: their records run only when due.
  const retryStages = new Map(deps.retryTopics.map((t) => [t.topic, t]));
  const sighted = headSightings();

  return async (whole) => {
    const stage = retryStages.get(whole.topic);
    const retrySource = stage?.source;
    // A retry partition runs its due head only, and waits (paused, holding nothing else) for the rest.
    const due = stage === undefined ? { due: whole.records.length, waitMs: 0 } : retryDue(whole, stage.delayMs);
    if (due.due === 0) {
      log.debug("retry:not-due", { partition: partitionKey(whole), offset: whole.records[0]?.offset, dueInMs: due.waitMs });
      return { stopAt: whole.records[0]!.offset, resumeAfterMs: due.waitMs };
    }
    const batch = due.due === whole.records.length ? whole : { ...whole, records: whole.records.slice(0, due.due) };
    const progress = await runDue(batch, retrySource);
    if (progress || due.due === whole.records.length) return progress;
    return { stopAt: whole.records[due.due]!.offset, resumeAfterMs: due.waitMs };
  };

  function retryDue(batch: PartitionBatch, delayMs: number) {
    const now = Date.now();
    const head = batch.records[0]!;
    const firstSeenAt = sighted(partitionKey(batch), head.offset, now);
    const latest = firstSeenAt + delayMs;
    const written = dueAtOf(head);
    // Said once per head, when first seen.
    if (firstSeenAt === now && written !== null && written > latest) {
      log.warn("retry:due-time-ahead", {
        partition: partitionKey(batch),
        offset: head.offset,
        aheadMs: written - latest,
        dueInMs: Math.max(0, latest - now),
        why: "the retry record's due time is further ahead than its stage's delay: the clock that wrote it is ahead of this one; it runs one delay after it was first seen here",
      });
    }
    return duePrefix(batch.records, now, latest);
  }

  async function runDue(batch: PartitionBatch, retrySource: string | undefined): Promise<BatchProgress> {
    const key = partitionKey(batch);
    const where = { handler: handler.name, topic: batch.topic, partition: batch.partition };
    const startedAt = performance.now();
    emit("batch:started", { ...where, records: batch.records.length });
    log.debug("batch:started", { partition: key, from: batch.records[0]?.offset, records: batch.records.length });
    let state = deps.partitions.get(key);
    if (!state) deps.partitions.set(key, (state = newPartitionState(settings.batchSize)));
    state.waitingSince ??= Date.now();
    const tally: Tally = { ...emptyTally, records: batch.records.length };
    const count = (result: SettledResult, record: KafkaRecord) => {
      if (result.kind === "sent-to-retry") {
        emit("event:retry-scheduled", { ...where, offset: record.offset, attempt: result.attempt, delayMs: result.delayMs, retryTopic: result.topic });
        deps.onEvent?.(result, record);
        return;
      }
      if (result.kind === "applied") tally.applied++;
      else if (result.kind === "technical-duplicate") tally.technicalDuplicates++;
      else if (result.kind === "functional-duplicate") tally.functionalDuplicates++;
      else tally.deadLettered++;
      const reason =
        result.kind === "dead-lettered"
          ? result.reason
          : result.kind === "key-rejected"
            ? result.error.reason
            : result.kind === "functional-duplicate"
              ? "functional-duplicate"
              : null;
      if (reason) emit("event:dead-lettered", { ...where, reason });
      deps.onEvent?.(result, record);
    };
    try {
      const outcome = await apply(batch, state, tally, count, retrySource);
      log.debug("batch:applied", { partition: key, ...tally, ...(outcome.kind === "done" ? {} : { stoppedAt: outcome.offset, outcome: outcome.kind }) });
      emit("batch:applied", { ...where, ...tally, durationMs: performance.now() - startedAt });
      return await settle(batch, state, outcome);
    } catch (e) {
      emit("batch:failed", { ...where, durationMs: performance.now() - startedAt });
      throw e;
    }
  }

  async function apply(batch: PartitionBatch, state: PartitionState, tally: Tally, count: NonNullable<BatchDeps["onEvent"]>, retrySource: string | undefined) {
    // Records below PostgreSQL's offset were applied already (a crash between the two commits).
    // A batch is in offset order: they can only be its first ones (almost always none).
    const floor = state.applied;
    let first = 0;
    if (floor !== undefined) while (first < batch.records.length && BigInt(batch.records[first]!.offset) < floor) first++;
    const records = first === 0 ? batch.records : batch.records.slice(first);
    tally.skipped = batch.records.length - records.length;
    if (records.length === 0) return { kind: "done" } as const;
    try {
      await deps.avro?.warm(records);
    } catch (e) {
      const failure: Failure = { error: coerceError(e), source: "registry" };
      // The registry's own message: no event data in it.
      state.lastFailure = { at: Date.now(), offset: records[0]!.offset, ...failureFields(failure) };
      const decision = decide(failure, { events: 0, culpritKnown: false, attempt: 1, contended: state.contended }, handler.retry);
      // Before decoding nothing is any event's doing: the registry's failure can only be waited out.
      if (decision.kind !== "wait") throw new Error(`the failure policy answered ${decision.kind} for a registry failure`);
      return { kind: "wait", offset: records[0]!.offset, failure, fields: state.lastFailure } as const;
    }
    const options = {
      eventIdHeader: settings.eventIdHeader,
      missingEventId: settings.missingEventId,
      format: handler.format,
      ...(deps.avro ? { avro: deps.avro.decode } : {}),
    };
    const prepared = records.map((r) => (retrySource === undefined ? prepareRecord(r, options) : prepareRetryRecord(r, retrySource, options)));
    const batchDeps: BatchDeps = {
      sql: deps.sql,
      handler,
      groupId: deps.groupId,
      producer: deps.producer,
      deadLetterSuffix: settings.deadLetterSuffix,
      maxTransactionSize: settings.batchSize,
      log,
      signal: deps.signal,
      onCommitted: (next) => {
        state.applied = BigInt(next);
        state.waitingSince = Date.now();
        // Something committed: whatever failed before is over, the next wait starts short again.
        state.outages = 0;
      },
      onEvent: count,
      ...(deps.faults ? { faults: deps.faults } : {}),
      ...(deps.contention ? { contention: deps.contention } : {}),
      ...(deps.outbox ? { outbox: deps.outbox } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    };
    if (!handler.concurrency) return processPrepared(prepared, batchDeps, state);
    let lastProgressAt = Date.now();
    return processByKey(
      prepared,
      {
        ...batchDeps,
        concurrency: handler.concurrency,
        stopping: batch.stopping,
        ...(deps.slots ? { slots: deps.slots } : {}),
        advanceOffset: (offset) => deps.advanceOffset({ topic: batch.topic, partition: batch.partition, offset }),
        onProgress: () => {
          const now = Date.now();
          if (now - lastProgressAt < 1_000) return;
          lastProgressAt = now;
          emit("batch:progressed", { handler: handler.name, topic: batch.topic, partition: batch.partition });
        },
        onRetryScheduled: (retry) => {
          const last = retry.failure;
          emit("event:retry-scheduled", {
            handler: handler.name,
            topic: batch.topic,
            partition: batch.partition,
            offset: retry.offset,
            attempt: retry.attempt,
            delayMs: retry.delayMs,
            ...(last ? { errorClass: last.errorClass, ...(last.errorCode ? { errorCode: last.errorCode } : {}), error: last.error } : {}),
          });
        },
      },
      state,
    );
  }

  async function settle(batch: PartitionBatch, state: PartitionState, outcome: BatchOutcome): Promise<BatchProgress> {
    const progress = react(batch, state, outcome);
    deps.faults?.("db-committed");
    const next = outcome.kind === "done" ? lastOffsetPlusOne(batch) : outcome.offset;
    if (!batch.isStale() && next !== batch.records[0]?.offset) {
      await deps.offerToKafka({ topic: batch.topic, partition: batch.partition, offset: next });
    }
    return progress;
  }

  /** What the lane does next: go on, or wait and redeliver from an offset. */
  function react(batch: PartitionBatch, state: PartitionState, outcome: BatchOutcome): BatchProgress {
    const where = { handler: handler.name, topic: batch.topic, partition: batch.partition };
    if (outcome.kind === "done") {
      state.outages = 0;
      state.waitingSince = undefined;
      state.lastFailure = undefined;
      return;
    }
    // Revoked, paused or stopping: the lane goes on from here once it may run again (if ever).
    if (outcome.kind === "cut") return { stopAt: outcome.offset, resumeAfterMs: 0 };
    if (outcome.kind === "retry-later") {
      const last = state.lastFailure;
      emit("event:retry-scheduled", {
        ...where,
        offset: outcome.offset,
        attempt: (state.retry?.attempts ?? 0) + 1,
        delayMs: outcome.delayMs,
        ...(last ? { errorClass: last.errorClass, ...(last.errorCode ? { errorCode: last.errorCode } : {}), error: last.error } : {}),
      });
      return { stopAt: outcome.offset, resumeAfterMs: outcome.delayMs };
    }
    // Not the event's fault: never dead-letter, never commit past it. The lane waits and
    // redelivers from here until it works, the partition is revoked or the worker stops.
    state.outages++;
    const resumeAfterMs = waitDelay(state.outages);
    const { at: _at, offset: _offset, ...fields } = outcome.fields as FailureFields & { at?: number; offset?: string };
    log.warn("partition:waiting", {
      partition: partitionKey(batch),
      offset: outcome.offset,
      outages: state.outages,
      retryInMs: resumeAfterMs,
      ...(outcome.systemic ? { why: "the events after this one fail alike: not dead-lettered one after another" } : {}),
      ...fields,
    });
    emit("partition:waiting", { ...where, offset: outcome.offset, retryInMs: resumeAfterMs, ...fields });
    return { stopAt: outcome.offset, resumeAfterMs };
  }
}
