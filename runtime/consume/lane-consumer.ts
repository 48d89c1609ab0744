/**
 * Ferry's consumer: one fetch loop over a Kafka adapter's ConsumerClient feeds per-partition lanes
 * (partition-lanes.ts); rebalances are cooperative and handled here, in order, one at a time;
 * commits are acknowledged. Nothing here knows which client library sits behind the port.
 */
import { coerceError } from "../errors.ts";
import { finishedWithin } from "../finished-within.ts";
import {
  type ConsumerClient,
  type ConsumerOptions,
  type ConsumerPort,
  type KafkaPort,
  partitionKey,
  type RebalanceEvent,
  type TopicPartition,
  type TopicPartitionOffset,
} from "../kafka/port.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { createLogChangeResponses } from "./log-change-responses.ts";
import { checkArrival } from "./log-changes.ts";
import { createPartitionLanes } from "./partition-lanes.ts";
import { heldByOpenTransaction, idleLaneAction, refetchKey } from "./starvation.ts";

/** How long a revocation waits for a batch in flight before leaving it stale. */
const REVOKE_WAIT_MS = 10_000;
/**
 * How long a stop lets a join under way finish (its first assignment): a member closed before its
 * coordinator answered the join has no id to leave with, and the group keeps it until its session
 * times out. A join took ~60 ms on the test cluster.
 */
const JOIN_SETTLE_MS = 1_000;
/**
 * Lanes short of their partition's end that got nothing for `idleMs` are looked at every `checkMs`
 * (starvation.ts): past transaction markers, their offset moves on; after `afterMs` they count as
 * starving and are fetched again. Seen in the zombie-worker fault test after rebalances: a kept
 * partition, lag 351, nothing fetched for 150 s, no warning anywhere; later a partition short of its
 * end for 180 s while a check gave up whenever the client's position was at the end.
 */
const STARVATION = { idleMs: 1_000, checkMs: 2_000, afterMs: 20_000 };
/** A batch still under way after this long is reported (once): a stuck batch otherwise looks like an idle partition. */
const BATCH_RUNNING_LONG_MS = 60_000;

/** A group member for `options.groupId` over `kafka`'s client, delivering batches per partition. */
export function createLaneConsumer(
  kafka: KafkaPort,
  options: ConsumerOptions,
  log: Logger = kafka.log ?? createLogger({ level: "warn" }),
  starvation = STARVATION,
): ConsumerPort {
  // Operator pauses (admin API). They MUST outlast retry backoffs and re-assignments until resumed.
  const heldTopics = new Set<string>();
  const heldPartitions = new Set<string>();
  const isHeld = (topic: string, partition: number) => heldTopics.has(topic) || heldPartitions.has(partitionKey({ topic, partition }));
  let state: "created" | "running" | "stopping" | "stopped" = "created";
  let rebalances: Promise<void> = Promise.resolve();
  let fetchLoop: Promise<void> = Promise.resolve();
  // Partitions paused in librdkafka (back-pressure or an operator's pause). librdkafka keeps that
  // state across an unassign, so a partition revoked while paused would come back paused.
  const pausedInClient = new Set<string>();
  // Per partition, what was last fetched again (starvation.ts), and when it was last resumed for starving.
  const refetched = new Map<string, string>();
  const resumedAt = new Map<string, number>();
  /** The group gave this member an assignment (or took one back) at least once: it has joined. */
  let joined = false;

  const consumer: ConsumerClient = kafka.consumerClient(options.groupId, {
    // Called from inside a fetch: one at a time and in order, an assignment's positions are read before the next event.
    onRebalance(event) {
      joined = true;
      rebalances = rebalances
        .then(() => onRebalance(event))
        .catch((e: unknown) => {
          // While closing, the client hands the partitions back itself once it is disconnected.
          if (state === "running") log.error("consumer:rebalance-failed", { group: options.groupId, error: coerceError(e) });
          else log.debug("consumer:rebalance-while-closing", { group: options.groupId, error: coerceError(e) });
        });
    },
  });

  const lanes = createPartitionLanes({
    maxBatchSize: options.maxBatchSize,
    concurrency: options.partitionConcurrency,
    // Two batches' worth. One batch's worth measured faster (compare.ts, 3 rounds of 50,000
    // records: 7,144 -> 9,632 events/s, 61.9 -> 58.9 us CPU per event, peak RSS 234 -> 216 MB),
    // but with it the zombie-worker fault test once left a kept partition unfetched after a
    // rebalance (lag 351, no records for 150 s, no warning) under load: twice the pause/resume
    // traffic. Not reproduced in 8 quiet runs; kept at two until that is understood.
    capacity: 2 * options.maxBatchSize,
    // One batch for the lanes whose turn is not near: with many more partitions than batches at
    // once, the lanes held most of what was fetched (bench/README.md, "Memory and the number of
    // partitions"). A quarter batch held less and starved the turns that came (25% fewer events/s).
    farCapacity: options.maxBatchSize,
    deliver: (batch) => eachBatch(batch),
    setFetching(tp, fetching) {
      if (state !== "running") return;
      const list = [{ topic: tp.topic, partition: tp.partition }];
      try {
        if (fetching) {
          consumer.resume(list);
          pausedInClient.delete(partitionKey(tp));
        } else {
          consumer.pause(list);
          pausedInClient.add(partitionKey(tp));
        }
        log.debug("consumer:fetching", { partition: partitionKey(tp), fetching });
      } catch (e) {
        log.warn("consumer:pause-resume-failed", { partition: partitionKey(tp), fetching, error: coerceError(e) });
      }
    },
    highWatermark: (tp) => consumer.highWatermark(tp),
    logStart: (tp) => consumer.logStart(tp),
    onLogChanged(tp, change) {
      if (state !== "running") return;
      if (change.kind === "records-deleted") return logChanges.reportDeleted(tp, change);
      void logChanges.confirmReplaced(tp, change);
    },
    onBatchFailed(tp, error, failures) {
      const retryInMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
      log.error("consumer:batch-failed", { partition: partitionKey(tp), error: coerceError(error), failures, retryInMs });
      return retryInMs;
    },
  });
  let eachBatch: Parameters<ConsumerPort["start"]>[0] = () => Promise.resolve();

  const onRebalance = async ({ kind, partitions: tps, lost }: RebalanceEvent) => {
    if (kind === "assign") {
      let positions: TopicPartitionOffset[] = [];
      try {
        if (state === "running" && options.onAssign) positions = await options.onAssign(tps);
      } finally {
        // Always assigned, even when the owner failed: librdkafka holds the rebalance until then.
        // Partitions without a known position start from the group's committed offset.
        const byKey = new Map(positions.map((p) => [partitionKey(p), p.offset]));
        consumer.assign(
          tps.map((tp) => {
            const offset = byKey.get(partitionKey(tp));
            return offset === undefined ? tp : { ...tp, offset };
          }),
        );
        if (state === "running") {
          for (const tp of tps) {
            const nextOffset = byKey.get(partitionKey(tp));
            lanes.open(tp, { held: isHeld(tp.topic, tp.partition), ...(nextOffset !== undefined ? { nextOffset } : {}) });
          }
        }
      }
    } else {
      try {
        // Batches in flight finish (and offer their offsets) before the owner hears of the
        // revocation, so it can hand Kafka everything PostgreSQL holds; a lost assignment has no
        // owner left to commit for, so nothing waits.
        await lanes.close(tps, lost ? 0 : REVOKE_WAIT_MS);
        // Bounded: a coordinator that does not answer (brokers down) must not hold the rebalance.
        if (!(await finishedWithin(Promise.resolve(options.onRevoke?.(tps, { lost })), REVOKE_WAIT_MS))) {
          log.warn("consumer:revoke-timed-out", { group: options.groupId, waitedMs: REVOKE_WAIT_MS });
        }
      } finally {
        // librdkafka keeps a partition's pause across an unassign: one revoked while paused would
        // come back paused and never be fetched again.
        for (const tp of tps) {
          refetched.delete(partitionKey(tp));
          resumedAt.delete(partitionKey(tp));
        }
        const paused = tps.filter((tp) => pausedInClient.delete(partitionKey(tp)));
        if (paused.length > 0) {
          try {
            consumer.resume(paused);
          } catch (e) {
            log.warn("consumer:pause-resume-failed", { partitions: paused.map(partitionKey), fetching: true, error: coerceError(e) });
          }
        }
        consumer.unassign(tps);
      }
    }
  };

  const logChanges = createLogChangeResponses({
    options,
    log,
    running: () => state === "running",
    lanes,
    logBounds: (tp, timeoutMs) => consumer.logBounds(tp, timeoutMs),
    fetchFrom: (tp, offset) => fetchFrom(tp, offset),
    inTurn(step) {
      rebalances = rebalances.then(step).catch((e: unknown) => {
        if (state === "running") log.error("partition:reopen-failed", { group: options.groupId, error: coerceError(e) });
      });
    },
    forget(tp) {
      refetched.delete(partitionKey(tp));
      resumedAt.delete(partitionKey(tp));
      // The new lane starts out fetching: a partition paused in the client would never be fetched again.
      if (pausedInClient.delete(partitionKey(tp))) consumer.resume([tp]);
    },
    isHeld: (tp) => isHeld(tp.topic, tp.partition),
  });

  const runFetchLoop = async () => {
    let failures = 0;
    while (state === "running") {
      const { records, failure } = await consumer.fetch(options.maxBatchSize);
      if (records.length > 0) lanes.push(records);
      if (!failure || state !== "running") {
        failures = 0;
        continue;
      }
      if (failure.fatal) throw failure.error;
      // Broker or network trouble: the client reconnects by itself; keep asking, a little slower.
      failures++;
      if ((failures & (failures - 1)) === 0) log.warn("consumer:fetch-failed", { group: options.groupId, error: coerceError(failure.error), failures });
      await Bun.sleep(Math.min(2_000, 50 * failures));
    }
  };

  let starvationTimer: ReturnType<typeof setInterval> | undefined;
  const checkStarving = () => {
    if (state !== "running") return;
    for (const batch of lanes.longRunning(Date.now(), BATCH_RUNNING_LONG_MS)) {
      log.warn("partition:batch-running-long", {
        group: options.groupId,
        partition: partitionKey(batch),
        firstOffset: batch.firstOffset,
        records: batch.records,
        runningMs: batch.runningMs,
        why: "the partition waits for this batch: a handler past its own timeout's reach, a lock another transaction holds, or a Kafka send not yet acknowledged; nothing interrupts it",
      });
    }
    const now = Date.now();
    for (const idle of lanes.waiting(now, starvation.idleMs)) {
      const tp = { topic: idle.topic, partition: idle.partition };
      const key = partitionKey(tp);
      const fetchPosition = consumer.fetchPosition(tp);
      const lastResume = resumedAt.get(key);
      const action = idleLaneAction(
        {
          ...idle,
          fetchPosition,
          logStart: consumer.logStart(tp),
          lastRefetch: refetched.get(key),
          sinceResumeMs: lastResume === undefined ? Infinity : now - lastResume,
        },
        starvation.afterMs,
      );
      if (action.action === "none") continue;
      const fields = {
        group: options.groupId,
        partition: key,
        nextOffset: idle.nextOffset,
        highWatermark: idle.highWatermark,
        fetchPosition,
        idleMs: idle.idleMs,
      };
      if (action.action === "past-deleted") {
        if (!lanes.movePast(tp, action.to)) continue;
        const change = checkArrival(Number(idle.nextOffset), Number(action.to), { logStart: action.to, logEnd: idle.highWatermark });
        if (change.kind === "records-deleted") logChanges.reportDeleted(tp, change);
        void Promise.resolve(options.onMovedPast?.({ ...tp, offset: action.to })).catch((e: unknown) =>
          log.warn("partition:move-past-failed", { ...fields, to: action.to, error: coerceError(e) }),
        );
        continue;
      }
      if (action.action === "move-past") {
        if (!lanes.movePast(tp, action.to)) continue;
        log.debug("partition:moved-past", {
          ...fields,
          to: action.to,
          why: "offsets without records for the application: transaction markers or aborted records",
        });
        void Promise.resolve(options.onMovedPast?.({ ...tp, offset: action.to })).catch((e: unknown) =>
          log.warn("partition:move-past-failed", { ...fields, to: action.to, error: coerceError(e) }),
        );
        continue;
      }
      if (action.action === "resume") {
        resumedAt.set(key, now);
        void resumeIfStarving(tp, fields, action.seekTo);
        continue;
      }
      refetched.set(key, refetchKey(idle.nextOffset, fetchPosition));
      log.debug("partition:refetching", { ...fields, why: "the client read to the end and the lane got nothing past its offset" });
      fetchFrom(tp, action.seekTo);
    }
  };

  const fetchFrom = (tp: TopicPartition, offset: string) => {
    try {
      consumer.seek({ ...tp, offset });
    } catch (e) {
      log.warn("consumer:seek-failed", { group: options.groupId, partition: partitionKey(tp), offset, error: coerceError(e) });
    }
  };

  // A producer's open transaction holds the stable end (what a read_committed consumer may read)
  // short of the high watermark, for as long as it stays open (a Flink sink's: a checkpoint
  // interval): waiting then is not starving. The leader says where the stable end is.
  const resumeIfStarving = async (tp: TopicPartition, fields: Record<string, unknown>, seekTo: string) => {
    const stableEnd = await consumer.stableEnd(tp, 5_000).catch(() => undefined);
    if (state !== "running" || !lanes.assigned().some((a) => partitionKey(a) === partitionKey(tp))) return;
    if (heldByOpenTransaction(stableEnd, seekTo)) {
      log.debug("partition:waiting-for-transaction", { ...fields, stableEnd, why: "an open transaction upstream: its records come once it commits or aborts" });
      return;
    }
    log.warn("partition:starved", { ...fields, stableEnd: stableEnd ?? "unknown", action: "resuming the partition and fetching it from the lane's offset" });
    try {
      consumer.resume([tp]);
      pausedInClient.delete(partitionKey(tp));
    } catch (e) {
      log.warn("consumer:pause-resume-failed", { partition: partitionKey(tp), fetching: true, error: coerceError(e) });
    }
    fetchFrom(tp, seekTo);
  };

  const heldTargets = (targets: Array<{ topic: string; partitions?: number[] }>) =>
    lanes.assigned().filter((tp) => targets.some((t) => t.topic === tp.topic && (!t.partitions || t.partitions.includes(tp.partition))));

  return {
    async start(handle) {
      eachBatch = handle;
      await consumer.connect();
      state = "running";
      try {
        consumer.subscribe(options.topics);
      } catch (e) {
        state = "stopped";
        await consumer.disconnect();
        throw e;
      }
      starvationTimer = setInterval(checkStarving, starvation.checkMs);
      starvationTimer.unref?.();
      fetchLoop = runFetchLoop().catch((e: unknown) => {
        log.error("consumer:run-failed", { group: options.groupId, error: coerceError(e) });
        options.onFailure?.(coerceError(e));
      });
    },

    commit: (offsets) => consumer.commit(offsets),

    pause(targets) {
      for (const t of targets) {
        if (t.partitions) for (const p of t.partitions) heldPartitions.add(partitionKey({ topic: t.topic, partition: p }));
        else heldTopics.add(t.topic);
      }
      for (const tp of heldTargets(targets)) lanes.setHeld(tp, true);
    },

    resume(targets) {
      for (const t of targets) {
        if (t.partitions) for (const p of t.partitions) heldPartitions.delete(partitionKey({ topic: t.topic, partition: p }));
        else {
          heldTopics.delete(t.topic);
          for (const key of heldPartitions) if (key.startsWith(`${t.topic}:`)) heldPartitions.delete(key);
        }
      }
      for (const tp of heldTargets(targets)) if (!isHeld(tp.topic, tp.partition)) lanes.setHeld(tp, false);
    },

    isPaused: (topic, partition) => isHeld(topic, partition),
    assignment: () => lanes.assigned(),

    committed: (partitions, timeoutMs) => consumer.committed(partitions, timeoutMs),
    logBounds: (tp, timeoutMs) => consumer.logBounds(tp, timeoutMs),

    async refreshTopics(topics) {
      if (state !== "running") return;
      await consumer.refreshMetadata(topics, 5_000);
      // The same subscription again: librdkafka re-reads it and the group rebalances onto topics
      // that exist now (a metadata read alone left retry topics created after the first
      // assignment unassigned).
      consumer.subscribe(options.topics);
    },

    async stop({ leaveGroup = true } = {}) {
      if (state !== "running") return;
      state = "stopping";
      clearInterval(starvationTimer);
      await fetchLoop;
      // Stopped while joining (a SIGTERM during start-up): polling serves the join's assignment
      // (taken without lanes, its records dropped) so that unsubscribing below leaves the group.
      for (const until = Date.now() + JOIN_SETTLE_MS; !joined && Date.now() < until; ) await consumer.fetch(1);
      await lanes.drain();
      await rebalances;
      // Unsubscribing sends LeaveGroup, even for a static member; closing alone does not for one
      // (KIP-345): its partitions wait for it (up to the session timeout) instead of moving twice.
      if (leaveGroup || !consumer.staticMember) consumer.unsubscribe();
      await consumer.disconnect();
      state = "stopped";
    },
  };
}
