import type { Sql } from "postgres";
import type { FerryConfig } from "../config/load.ts";
import type { EngineEvents } from "../engine-events.ts";
import { coerceError } from "../errors.ts";
import { createFaultInjector } from "../faults/inject.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { type KafkaPort, partitionKey, type ProducerPort, type TopicPartition, type TopicPartitionOffset } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { OutboxWriter } from "../outbox/writer.ts";
import type { AvroDecoding } from "../registry/handler-avro.ts";
import { advanceOffset } from "../db/sql/offsets.ts";
import { type RetryTopic, retryTopicsOf } from "../retry/topics.ts";
import { createBatchRunner } from "./batch-runner.ts";
import type { SettledResult } from "./move-past.ts";
import { createKafkaCommits } from "./kafka-commits.ts";
import { failureFields, newPartitionState, type PartitionState } from "./partition-state.ts";
import { afterContention, calm, isSerialized } from "../failure/contention.ts";
import type { Failure } from "../failure/policy.ts";
import { describeLogChange, type LogBounds } from "./log-changes.ts";
import { type PositionChange, resumePositions } from "./positions.ts";
import { findStalled, type StalledPartition } from "./stall-watch.ts";
import { createLaneConsumer } from "./lane-consumer.ts";
import type { Slots } from "./slots.ts";

/** The part of Ferry's configuration a worker reads (the engine hands it the whole config). */
export type WorkerSettings = Pick<
  FerryConfig,
  "groupPrefix" | "batchSize" | "partitionConcurrency" | "eventIdHeader" | "missingEventId" | "deadLetterSuffix" | "faultInject" | "partitionStallMs"
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
  /** `leaveGroup: false`: a static member keeps its partitions for its return (see ConsumerPort.stop). */
  stop(options?: { leaveGroup?: boolean }): Promise<void>;
  /** An operator's pause: it holds across retry backoffs and re-assignments until `resume`. */
  pause(target?: PauseTarget): void;
  resume(target?: PauseTarget): void;
  /** The partitions assigned to this worker now, and whether an operator paused each. */
  assignment(): Array<{ topic: string; partition: number; paused: boolean }>;
  /** Whether an operator paused this handler's topics as a whole. */
  readonly paused: boolean;
  /** Assigned partitions with records that have not advanced for longer than FERRY_PARTITION_STALL_MS. */
  stalled(): StalledPartition[];
  /** One of its topics was created since it subscribed: take it up now. */
  refreshTopics(topics: string[]): Promise<void>;
}

export const groupIdFor = (prefix: string, handlerName: string) => `${prefix}.${handlerName}`;

/** How long a partition's new offset may wait to reach Kafka, coalesced with the other partitions'. */
const KAFKA_COMMIT_INTERVAL_MS = 1_000;

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
  onEvent?(handler: string, result: SettledResult): void;
  /** Where the handler's `ctx.publish` writes. */
  outbox?: OutboxWriter;
  /** The process's database connections, shared by the handlers that run events side by side (`concurrency`). */
  slots?: Slots;
  /**
   * A topic's partitions' log start and end (the engine's admin client: one request per topic).
   * Without it each partition's leader is asked through the consumer, one at a time.
   */
  topicOffsets?(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  /** Its retry topics that exist but are no longer among its stages (retry/topics.ts `leftoverRetryTopics`): drained. */
  leftoverRetryTopics?: RetryTopic[];
}): HandlerWorker {
  const { handler, settings, sql } = deps;
  const groupId = groupIdFor(settings.groupPrefix, handler.name);
  const log = deps.log.child({ handler: handler.name, group: groupId });
  // Test-only: undefined unless FERRY_FAULT_INJECT armed it, so every `faults?.(point)` costs nothing.
  const faults = settings.faultInject ? createFaultInjector(settings.faultInject) : undefined;
  if (settings.faultInject) log.warn("faults:armed", { points: settings.faultInject });
  const abort = new AbortController();
  // Retry topics (`retry: { mode: "topics" }`): consumed in the handler's own group, beside its topics.
  const retryTopics = [...retryTopicsOf(handler), ...(deps.leftoverRetryTopics ?? [])];
  const topics = [...handler.topics, ...retryTopics.map((t) => t.topic)];
  // The failure policy's memory and PostgreSQL's offset, per assigned partition.
  const partitions = new Map<string, PartitionState>();
  const emit: EngineEvents["emit"] = (name, payload) => deps.events?.emit(name, payload);
  let joined = false;
  const pausedTopics = new Set<string>();

  // Read while the group waits for this member: one admin request per topic, not a blocking client call per partition.
  const boundsOf = async (tps: TopicPartition[]): Promise<Map<string, LogBounds>> => {
    const bounds = new Map<string, LogBounds>();
    if (!deps.topicOffsets) {
      for (const tp of tps) bounds.set(partitionKey(tp), await consumer.logBounds(tp, 5_000));
      return bounds;
    }
    await Promise.all(
      [...new Set(tps.map((tp) => tp.topic))].map(async (topic) => {
        for (const p of await deps.topicOffsets!(topic)) bounds.set(partitionKey({ topic, partition: p.partition }), { logStart: p.low, logEnd: p.high });
      }),
    );
    return bounds;
  };

  // Never silent (log-changes.ts): a line naming the partition and the offsets, an event for the metrics.
  const reportLogChange = ({ change, ...tp }: PositionChange) => {
    const { level, msg, fields } = describeLogChange(change);
    // Derived ids are coordinates, which the new log reuses: its events there look applied already.
    const derived =
      change.kind === "log-replaced" && settings.missingEventId === "derive"
        ? {
            eventIds:
              "records without an event id header get topic/partition/offset as their id (FERRY_MISSING_EVENT_ID=derive): those of the new log at offsets the old log's applied events had are skipped as duplicates; give events an id header",
          }
        : {};
    log[level](msg, { partition: partitionKey(tp), ...fields, ...derived });
    emit("partition:log-changed", {
      handler: handler.name,
      ...tp,
      kind: change.kind,
      ...(change.kind === "records-deleted"
        ? { from: change.from, to: change.to, skipped: Number(change.skipped) }
        : { from: change.stored, to: change.logStart, skipped: 0 }),
    });
  };

  const onAssign = async (assigned: TopicPartition[], context: { logReplaced?: boolean } = {}): Promise<TopicPartitionOffset[]> => {
    const startedAt = performance.now();
    const positions = await resumePositions(
      assigned,
      {
        sql,
        groupId,
        log,
        committedInKafka: (tps) => consumer.committed(tps, 5_000),
        offer: (o) => void kafkaCommits.offer(o),
        logBounds: boundsOf,
        onChange: reportLogChange,
      },
      context,
    );
    const known = new Map(positions.map((p) => [partitionKey(p), BigInt(p.offset)]));
    for (const tp of assigned) {
      const state = newPartitionState(settings.batchSize);
      const applied = known.get(partitionKey(tp));
      if (applied !== undefined) state.applied = applied;
      partitions.set(partitionKey(tp), state);
    }
    // The group waits for this member while its positions are read: a slow read shows here.
    log.info("partitions:assigned", { partitions: assigned.map(partitionKey), positionsMs: Math.round(performance.now() - startedAt) });
    joined = true;
    emit("partitions:assigned", { handler: handler.name, partitions: assigned });
    return positions;
  };

  const consumer = createLaneConsumer(
    deps.kafka,
    {
      groupId,
      topics,
      maxBatchSize: settings.batchSize,
      partitionConcurrency: settings.partitionConcurrency,
      onAssign,
      onRevoke: async (revoked, { lost }) => {
        // Still the owner: what PostgreSQL holds reaches Kafka now, or the group would show lag for
        // done work until the partition's next record. A lost partition has a new owner already.
        if (!lost) await kafkaCommits.flush({ readBack: false });
        for (const p of revoked) {
          partitions.delete(partitionKey(p));
          stallWatch.forget(p);
        }
        kafkaCommits.forget(revoked);
        log.info("partitions:revoked", { partitions: revoked.map(partitionKey) });
        emit("partitions:revoked", { handler: handler.name, partitions: revoked });
      },
      // Past a transaction's marker: PostgreSQL's offset and then Kafka's move on, or the group
      // shows a lag of one on the partition until its next record.
      onMovedPast: async (position) => {
        const state = partitions.get(partitionKey(position));
        if (!state) return;
        await advanceOffset(sql, groupId, position);
        const next = BigInt(position.offset);
        if (state.applied === undefined || state.applied < next) state.applied = next;
        if (partitions.get(partitionKey(position)) === state) void kafkaCommits.offer(position);
      },
      onLogChanged: (tp, change) => reportLogChange({ ...tp, change }),
      // Only while running: a loop that ends because the worker stops (a swap, a shutdown) did not fail.
      onFailure: (error) => {
        if (!abort.signal.aborted) emit("consumer:failed", { handler: handler.name, message: error.message });
      },
    },
    log,
  );

  let commitFailures = 0;
  // PostgreSQL first, Kafka second: only offsets already committed in PostgreSQL are offered.
  const kafkaCommits = createKafkaCommits({
    commit: (offsets) => consumer.commit(offsets),
    committed: (offsets) => consumer.committed(offsets, 5_000),
    intervalMs: KAFKA_COMMIT_INTERVAL_MS,
    onCommitted: (offsets, durationMs) => {
      if (offsets.length > 0) commitFailures = 0;
      for (const o of offsets) emit("offsets:committed", { handler: handler.name, topic: o.topic, partition: o.partition, offset: o.offset, durationMs });
    },
    // Said on the 1st, 2nd, 4th, 8th ... failure in a row: a refused commit is offered again every
    // interval, and a topic deleted under the worker had it warn once a second for as long as it was gone.
    onFailed: (offsets, e) => {
      commitFailures++;
      if ((commitFailures & (commitFailures - 1)) === 0) {
        log.warn("offsets:kafka-commit-failed", { partitions: offsets.map(partitionKey), error: coerceError(e), failures: commitFailures });
      }
    },
  });

  // Shared by the handler's partitions: deadlocks between them serialize its transactions for a while.
  let contention = calm();
  const contentionMode = {
    serialized: () => isSerialized(contention, Date.now()),
    contended(failure: Failure) {
      const next = afterContention(contention, Date.now());
      contention = next.mode;
      if (next.serializeForMs > 0) {
        log.info("handler:serialized", {
          forMs: next.serializeForMs,
          why: "its partitions' transactions met contention: they run one at a time for a while",
          ...failureFields(failure),
        });
      }
    },
  };

  const runBatch = createBatchRunner({
    handler,
    groupId,
    sql,
    producer: deps.producer,
    settings,
    log,
    ...(deps.avro ? { avro: deps.avro } : {}),
    emit,
    ...(deps.onEvent ? { onEvent: (result) => deps.onEvent?.(handler.name, result) } : {}),
    partitions,
    offerToKafka: (o) => kafkaCommits.offer(o),
    advanceOffset: (o) => advanceOffset(sql, groupId, o),
    ...(deps.slots ? { slots: deps.slots } : {}),
    signal: abort.signal,
    ...(faults ? { faults } : {}),
    ...(deps.outbox ? { outbox: deps.outbox } : {}),
    contention: contentionMode,
    retryTopics,
  });

  const stalledNow = () =>
    findStalled(
      [...partitions].map(([key, state]) => {
        const colon = key.lastIndexOf(":");
        return [{ topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) }, state] as const;
      }),
      { now: Date.now(), stallMs: settings.partitionStallMs, isHeld: (tp) => consumer.isPaused(tp.topic, tp.partition) },
    );
  const stallWatch = watchStalls(stalledNow, settings.partitionStallMs, {
    onStalled(p) {
      log.warn("partition:stalled", {
        partition: partitionKey(p),
        offset: p.offset,
        stalledMs: Date.now() - p.since,
        ...(p.lastFailure
          ? { source: p.lastFailure.source, errorClass: p.lastFailure.errorClass, errorCode: p.lastFailure.errorCode, error: p.lastFailure.error }
          : { lastFailure: "none: a batch has been running all this time" }),
      });
      emit("partition:stalled", {
        handler: handler.name,
        topic: p.topic,
        partition: p.partition,
        offset: p.offset,
        since: p.since,
        ...(p.lastFailure ? { errorClass: p.lastFailure.errorClass, error: p.lastFailure.error } : {}),
      });
    },
    onRecovered(p, stalledMs) {
      log.info("partition:recovered", { partition: partitionKey(p), stalledMs });
      emit("partition:recovered", { handler: handler.name, topic: p.topic, partition: p.partition, stalledMs });
    },
  });

  // A whole handler's pause holds its retry topics too: none of its events runs.
  const targets = (target: PauseTarget = {}) =>
    target.topic === undefined
      ? topics.map((topic) => ({ topic }))
      : [{ topic: target.topic, ...(target.partitions ? { partitions: target.partitions } : {}) }];

  return {
    handler,
    groupId,
    get joined() {
      return joined;
    },
    get paused() {
      return topics.every((t) => pausedTopics.has(t));
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
    stalled: stalledNow,
    refreshTopics: (topics) => consumer.refreshTopics(topics),
    async start() {
      await consumer.start(runBatch);
      stallWatch.start();
      log.info("handler:started", { topics: handler.topics });
    },
    async stop(options) {
      abort.abort(new Error("the worker is stopping"));
      stallWatch.stop();
      // What PostgreSQL holds reaches Kafka before the group is left; batches still finishing commit at once.
      await kafkaCommits.stop();
      await consumer.stop(options);
      log.info("handler:stopped");
    },
  };
}

/** Checks now and then which partitions are stalled, and reports each transition once. */
function watchStalls(
  stalledNow: () => StalledPartition[],
  stallMs: number,
  report: { onStalled(p: StalledPartition): void; onRecovered(p: TopicPartition, stalledMs: number): void },
) {
  const reported = new Map<string, StalledPartition>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const check = () => {
    const now = stalledNow();
    const current = new Set(now.map(partitionKey));
    for (const p of now) {
      if (reported.has(partitionKey(p))) continue;
      reported.set(partitionKey(p), p);
      report.onStalled(p);
    }
    for (const [key, p] of reported) {
      if (current.has(key)) continue;
      reported.delete(key);
      report.onRecovered(p, Date.now() - p.since);
    }
  };
  return {
    start() {
      timer = setInterval(check, Math.max(250, Math.min(5_000, Math.floor(stallMs / 4))));
      timer.unref?.();
    },
    stop() {
      clearInterval(timer);
    },
    forget(tp: TopicPartition) {
      const p = reported.get(partitionKey(tp));
      if (!p) return;
      reported.delete(partitionKey(tp));
      report.onRecovered(p, Date.now() - p.since);
    },
  };
}
