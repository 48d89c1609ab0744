/**
 * The consumer side of the Kafka port, over librdkafka's own KafkaConsumer (the node-rdkafka
 * style API of @confluentinc/kafka-javascript): one fetch loop feeds per-partition lanes
 * (partition-lanes.ts), rebalances are cooperative and handled here, commits are acknowledged.
 */
import { KafkaConsumer, CODES } from "@confluentinc/kafka-javascript";
import type { Message, LibrdKafkaError } from "@confluentinc/kafka-javascript";
import { coerceError } from "../errors.ts";
import { finishedWithin } from "../finished-within.ts";
import type { Logger } from "../log/logger.ts";
import { createPartitionLanes } from "./partition-lanes.ts";
import { partitionKey, type ConsumerOptions, type ConsumerPort, type KafkaRecord, type TopicPartition, type TopicPartitionOffset } from "./port.ts";

const ERR = CODES.ERRORS as Record<string, number>;

/** The part of librdkafka's consumer Ferry uses; the package's typings lack the cooperative and callback calls. */
interface RdKafkaConsumer {
  connect(options: object, cb: (err: LibrdKafkaError | null) => void): void;
  disconnect(cb: (err: LibrdKafkaError | null) => void): void;
  subscribe(topics: string[]): void;
  unsubscribe(): void;
  consume(count: number, cb: (err: LibrdKafkaError | null, messages: Message[]) => void): void;
  setDefaultConsumeTimeout(ms: number): void;
  setDefaultIsTimeoutOnlyForFirstMessage(firstOnly: boolean): void;
  incrementalAssign(partitions: Array<TopicPartition & { offset?: number }>): void;
  incrementalUnassign(partitions: TopicPartition[]): void;
  assignmentLost(): boolean;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  commitCb(offsets: Array<TopicPartition & { offset: number }>, cb: (err: LibrdKafkaError | null) => void): void;
  committed(
    partitions: TopicPartition[],
    timeoutMs: number,
    cb: (err: LibrdKafkaError | null, result: Array<TopicPartition & { offset?: number }>) => void,
  ): void;
  getWatermarkOffsets(topic: string, partition: number): { highOffset: number };
  on(event: "event.error", listener: (e: LibrdKafkaError) => void): void;
}
/**
 * How Ferry's consumer fetches; bench/raw.ts reads with the same settings, so the raw ceiling
 * measures this client as Ferry configures it.
 */
export const fetchSettings = {
  "enable.auto.commit": false,
  "enable.auto.offset.store": false,
  "partition.assignment.strategy": "cooperative-sticky",
  // Bounded prefetch: librdkafka's queue is most of a busy worker's memory (default 64 MiB).
  // A partition over the bound waits fetch.queue.backoff.ms before its next fetch: at the
  // default 1 s a bare consumer read 22k records/s, at 20 ms 81-91k (bench/README.md).
  "queued.max.messages.kbytes": 8_192,
  "fetch.queue.backoff.ms": 20,
} as const;
/** How long one fetch call waits for a first record: also how soon a stop is noticed. */
export const FETCH_WAIT_MS = 100;
/** How long a revocation waits for a batch in flight before leaving it stale. */
const REVOKE_WAIT_MS = 10_000;

export function createLaneConsumer(clientConfig: Record<string, unknown>, options: ConsumerOptions, log: Logger): ConsumerPort {
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

  const consumer: RdKafkaConsumer = new KafkaConsumer(
    {
      ...clientConfig,
      "group.id": options.groupId,
      ...fetchSettings,
      "session.timeout.ms": 10_000,
      "heartbeat.interval.ms": 1_000,
      rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => {
        const lost = err.code === ERR.ERR__REVOKE_PARTITIONS && consumer.assignmentLost();
        // One at a time and in order: an assignment's positions are read before the next event.
        rebalances = rebalances
          .then(() => onRebalance(err.code, assignment, lost))
          .catch((e: unknown) => {
            // While closing, librdkafka hands the partitions back itself once the client is disconnected.
            if (state === "running") log.error("consumer:rebalance-failed", { group: options.groupId, error: coerceError(e) });
            else log.debug("consumer:rebalance-while-closing", { group: options.groupId, error: coerceError(e) });
          });
      },
    } as never,
    { "auto.offset.reset": "earliest" },
  ) as unknown as RdKafkaConsumer;
  consumer.on("event.error", (e: LibrdKafkaError) => log.warn("kafka:client-error", { group: options.groupId, code: e.code, error: coerceError(e) }));

  const lanes = createPartitionLanes({
    maxBatchSize: options.maxBatchSize,
    concurrency: options.partitionConcurrency,
    capacity: 2 * options.maxBatchSize,
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
      } catch (e) {
        log.warn("consumer:pause-resume-failed", { partition: partitionKey(tp), fetching, error: coerceError(e) });
      }
    },
    highWatermark(tp) {
      try {
        return String(consumer.getWatermarkOffsets(tp.topic, tp.partition).highOffset);
      } catch {
        return "-1";
      }
    },
    onBatchFailed(tp, error, failures) {
      const retryInMs = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
      log.error("consumer:batch-failed", { partition: partitionKey(tp), error: coerceError(error), failures, retryInMs });
      return retryInMs;
    },
  });
  let eachBatch: Parameters<ConsumerPort["start"]>[0] = () => Promise.resolve();

  const onRebalance = async (code: number, partitions: TopicPartition[], lost: boolean) => {
    const tps = partitions.map((p) => ({ topic: p.topic, partition: p.partition }));
    if (code === ERR.ERR__ASSIGN_PARTITIONS) {
      let positions: TopicPartitionOffset[] = [];
      try {
        if (state === "running" && options.onAssign) positions = await options.onAssign(tps);
      } finally {
        // Always assigned, even when the owner failed: librdkafka holds the rebalance until then.
        // Partitions without a known position start from the group's committed offset.
        const byKey = new Map(positions.map((p) => [partitionKey(p), p.offset]));
        consumer.incrementalAssign(
          tps.map((tp) => {
            const offset = byKey.get(partitionKey(tp));
            return offset === undefined ? tp : { ...tp, offset: Number(offset) };
          }),
        );
        if (state === "running") {
          for (const tp of tps) {
            const nextOffset = byKey.get(partitionKey(tp));
            lanes.open(tp, { held: isHeld(tp.topic, tp.partition), ...(nextOffset !== undefined ? { nextOffset } : {}) });
          }
        }
      }
    } else if (code === ERR.ERR__REVOKE_PARTITIONS) {
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
        const paused = tps.filter((tp) => pausedInClient.delete(partitionKey(tp)));
        if (paused.length > 0) {
          try {
            consumer.resume(paused);
          } catch (e) {
            log.warn("consumer:pause-resume-failed", { partitions: paused.map(partitionKey), fetching: true, error: coerceError(e) });
          }
        }
        consumer.incrementalUnassign(tps);
      }
    } else {
      log.warn("consumer:rebalance-error", { group: options.groupId, code });
    }
  };

  const disconnect = () => new Promise<void>((resolve) => consumer.disconnect(() => resolve()));

  const fetchOnce = () =>
    new Promise<{ error: LibrdKafkaError | null; messages: Message[] }>((resolve) =>
      consumer.consume(options.maxBatchSize, (error, messages) => resolve({ error: error ?? null, messages: messages ?? [] })),
    );

  const runFetchLoop = async () => {
    let failures = 0;
    while (state === "running") {
      const { error, messages } = await fetchOnce();
      if (messages.length > 0) lanes.push(messages.map(toRecord));
      if (!error || error.code === ERR.ERR__TIMED_OUT || state !== "running") {
        failures = 0;
        continue;
      }
      if (error.isFatal || error.code === ERR.ERR__FATAL) throw error;
      // Broker or network trouble: librdkafka reconnects by itself; keep asking, a little slower.
      failures++;
      if ((failures & (failures - 1)) === 0)
        log.warn("consumer:fetch-failed", { group: options.groupId, code: error.code, error: coerceError(error), failures });
      await Bun.sleep(Math.min(2_000, 50 * failures));
    }
  };

  const heldTargets = (targets: Array<{ topic: string; partitions?: number[] }>) =>
    lanes.assigned().filter((tp) => targets.some((t) => t.topic === tp.topic && (!t.partitions || t.partitions.includes(tp.partition))));

  return {
    async start(handle) {
      eachBatch = handle;
      await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
      state = "running";
      try {
        consumer.setDefaultConsumeTimeout(FETCH_WAIT_MS);
        // Wait for the first record only: take what is ready and hand it over.
        consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
        consumer.subscribe(options.topics);
      } catch (e) {
        state = "stopped";
        await disconnect();
        throw e;
      }
      fetchLoop = runFetchLoop().catch((e: unknown) => {
        log.error("consumer:run-failed", { group: options.groupId, error: coerceError(e) });
        options.onFailure?.(coerceError(e));
      });
    },

    commit: (offsets) =>
      new Promise<void>((resolve, reject) =>
        consumer.commitCb(
          offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
          (err) => (err ? reject(err) : resolve()),
        ),
      ),

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

    committed: (partitions, timeoutMs) =>
      new Promise<TopicPartitionOffset[]>((resolve, reject) =>
        consumer.committed(partitions, timeoutMs, (err, result) => {
          if (err) return reject(err);
          // Partitions without a commit come back with a negative offset (or none).
          resolve(
            result
              .filter((p) => typeof p.offset === "number" && p.offset >= 0)
              .map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) })),
          );
        }),
      ),

    async stop() {
      if (state !== "running") return;
      state = "stopping";
      await fetchLoop;
      await lanes.drain();
      await rebalances;
      consumer.unsubscribe();
      await disconnect();
      state = "stopped";
    },
  };
}

function toRecord(m: Message): KafkaRecord {
  const headers: Record<string, Buffer> = {};
  let repeated: string[] | undefined;
  for (const header of m.headers ?? []) {
    for (const [name, raw] of Object.entries(header)) {
      const value = typeof raw === "string" ? Buffer.from(raw) : (raw as Buffer);
      const before = headers[name];
      if (before !== undefined && !before.equals(value)) (repeated ??= []).includes(name) || repeated.push(name);
      headers[name] = value;
    }
  }
  return {
    topic: m.topic,
    partition: m.partition,
    offset: String(m.offset),
    key: m.key === undefined || m.key === null ? null : typeof m.key === "string" ? Buffer.from(m.key) : m.key,
    value: m.value ?? null,
    headers,
    ...(repeated ? { repeatedHeaders: repeated } : {}),
    timestamp: m.timestamp ?? 0,
  };
}
