/**
 * The Kafka port over @confluentinc/kafka-javascript (librdkafka), using its KafkaJS-style API.
 * Under Bun the addon is our own build (scripts/build-kafka-addon.sh, runtime/kafka/bun-compat/).
 */
import { KafkaJS } from "@confluentinc/kafka-javascript";
import type { KafkaJS as KafkaJSTypes } from "@confluentinc/kafka-javascript";
import { RecordTooLargeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type {
  AdminPort,
  ConsumerOptions,
  ConsumerPort,
  KafkaPort,
  KafkaRecord,
  OutgoingRecord,
  PartitionBatch,
  ProducerPort,
  TopicPartition,
  TopicPartitionOffset,
} from "./port.ts";

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  securityProtocol: "plaintext" | "sasl_plaintext" | "ssl" | "sasl_ssl";
  sasl?: { mechanism: string; username: string; password: string };
}

export function createConfluentKafka(connection: KafkaConnection, log: Logger): KafkaPort {
  const common: Record<string, unknown> = {
    "bootstrap.servers": connection.brokers.join(","),
    "client.id": connection.clientId,
    "security.protocol": connection.securityProtocol,
    ...(connection.sasl
      ? {
          "sasl.mechanisms": connection.sasl.mechanism,
          "sasl.username": connection.sasl.username,
          "sasl.password": connection.sasl.password,
        }
      : {}),
  };
  const kafkaLog = log.child({ component: "kafka" });
  const kafka = new KafkaJS.Kafka({
    ...common,
    kafkaJS: { logger: adaptLogger(kafkaLog), logLevel: KafkaJS.logLevel.WARN },
  } as never);

  return {
    consumer: (options) => createConsumer(kafka, options, kafkaLog),
    producer: () => createProducer(kafka),
    admin: () => createAdmin(kafka),
  };
}

function createConsumer(kafka: KafkaJSTypes.Kafka, options: ConsumerOptions, log: Logger): ConsumerPort {
  // Operator pauses (admin API). They MUST win over a retry's timed resume and survive a
  // re-assignment: an operator who paused a partition expects it to stay paused until resumed.
  const heldTopics = new Set<string>();
  const heldPartitions = new Set<string>();
  const isHeld = (topic: string, partition: number) => heldTopics.has(topic) || heldPartitions.has(`${topic}:${partition}`);
  // Partitions waiting out a retry backoff: an operator's resume leaves them to their timer.
  const backingOff = new Set<string>();
  let connected = false;
  const rebalance = async (err: { code: number }, assignment: TopicPartition[], fns: { assign(a: unknown[]): void }) => {
    if (err.code === KafkaJS.ErrorCodes.ERR__ASSIGN_PARTITIONS) {
      const positions = options.onAssign ? await options.onAssign(assignment) : [];
      const byKey = new Map(positions.map((p) => [`${p.topic}:${p.partition}`, p.offset]));
      // Partitions without a known position start from the group's committed offset.
      fns.assign(
        assignment.map((tp) => {
          const offset = byKey.get(`${tp.topic}:${tp.partition}`);
          return offset === undefined ? { topic: tp.topic, partition: tp.partition } : { ...tp, offset: Number(offset) };
        }),
      );
      const held = assignment.filter((tp) => isHeld(tp.topic, tp.partition));
      if (held.length > 0) consumer.pause(held.map((tp) => ({ topic: tp.topic, partitions: [tp.partition] })));
    } else if (err.code === KafkaJS.ErrorCodes.ERR__REVOKE_PARTITIONS) {
      options.onRevoke?.(assignment);
    }
  };

  const consumer = kafka.consumer({
    kafkaJS: { groupId: options.groupId, fromBeginning: true, autoCommit: false },
    "partition.assignment.strategy": "cooperative-sticky",
    "js.consumer.max.batch.size": options.maxBatchSize,
    // Bounded prefetch: librdkafka's queue and the JS client's message cache are most of a busy
    // worker's memory. The defaults (64 MiB; 1.5 s of consumption per worker) held ~35k 1 KiB
    // records; a few hundred ms ahead still keeps every partition fed.
    "queued.max.messages.kbytes": 16_384,
    "js.consumer.max.cache.size.per.worker.ms": 300,
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 1_000,
    rebalance_cb: rebalance,
  } as never);

  const resumeTimers = new Set<ReturnType<typeof setTimeout>>();

  return {
    async start(eachBatch) {
      await consumer.connect();
      connected = true;
      await consumer.subscribe({ topics: options.topics });
      void consumer.run({
        partitionsConsumedConcurrently: options.partitionConcurrency,
        // Resolved by hand: a batch may stop early (a retry waiting out its backoff); the client
        // then seeks back to the first unresolved record.
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, isStale, resolveOffset, pause }) => {
          const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
          const partitionBatch: PartitionBatch = {
            topic: batch.topic,
            partition: batch.partition,
            records,
            highWatermark: batch.highWatermark,
            isStale,
          };
          const progress = await eachBatch(partitionBatch);
          if (!progress) {
            resolveOffset(batch.lastOffset());
            return;
          }
          const stopAt = BigInt(progress.stopAt);
          if (stopAt > BigInt(batch.firstOffset()!)) resolveOffset((stopAt - 1n).toString());
          // Pausing hands the partition back to the fetch loop at once: other partitions keep
          // flowing while this one waits.
          const resume = pause();
          const key = `${batch.topic}:${batch.partition}`;
          backingOff.add(key);
          const timer = setTimeout(() => {
            resumeTimers.delete(timer);
            backingOff.delete(key);
            if (!isHeld(batch.topic, batch.partition)) resume();
          }, progress.resumeAfterMs);
          resumeTimers.add(timer);
        },
      }).catch((e: unknown) => {
        log.error("consumer:run-failed", { group: options.groupId, error: e as Error });
        options.onFailure?.(e instanceof Error ? e : new Error(String(e)));
      });
    },
    async commit(offsets: TopicPartitionOffset[]) {
      await consumer.commitOffsets(offsets);
    },
    pause(targets) {
      for (const t of targets) {
        if (t.partitions) for (const p of t.partitions) heldPartitions.add(`${t.topic}:${p}`);
        else heldTopics.add(t.topic);
      }
      // Before the consumer connects the pause is only recorded: the first assignment applies it.
      if (connected) consumer.pause(targets);
    },
    resume(targets) {
      for (const t of targets) {
        if (t.partitions) for (const p of t.partitions) heldPartitions.delete(`${t.topic}:${p}`);
        else {
          heldTopics.delete(t.topic);
          for (const key of heldPartitions) if (key.startsWith(`${t.topic}:`)) heldPartitions.delete(key);
        }
      }
      const assigned = connected ? consumer.assignment() : [];
      const ready = targets.flatMap((t) =>
        (t.partitions ?? assigned.filter((a) => a.topic === t.topic).map((a) => a.partition))
          .filter((p) => !isHeld(t.topic, p) && !backingOff.has(`${t.topic}:${p}`))
          .map((p) => ({ topic: t.topic, partitions: [p] })),
      );
      if (connected && ready.length > 0) consumer.resume(ready);
    },
    isPaused: (topic, partition) => isHeld(topic, partition),
    assignment: () => (connected ? consumer.assignment() : []).map((tp) => ({ topic: tp.topic, partition: tp.partition })),
    async committed(partitions, timeoutMs) {
      const result = await consumer.committed(partitions, timeoutMs);
      // Partitions without a commit come back with a negative offset (or none).
      return result.filter((p) => p.offset !== undefined && p.offset !== null && Number(p.offset) >= 0)
        .map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) }));
    },
    async stop() {
      for (const timer of resumeTimers) clearTimeout(timer);
      resumeTimers.clear();
      connected = false;
      await consumer.disconnect();
    },
  };
}

function toRecord(topic: string, partition: number, m: KafkaJSTypes.KafkaMessage): KafkaRecord {
  const headers: Record<string, Buffer> = {};
  const repeated: string[] = [];
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    const values = (Array.isArray(value) ? value : [value]).filter((v) => v !== undefined).map((v) => (typeof v === "string" ? Buffer.from(v) : v));
    const last = values[values.length - 1];
    if (last === undefined) continue;
    headers[name] = last;
    if (values.some((v) => !v.equals(last))) repeated.push(name);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    headers,
    ...(repeated.length > 0 ? { repeatedHeaders: repeated } : {}),
    timestamp: Number(m.timestamp),
  };
}

async function createProducer(kafka: KafkaJSTypes.Kafka): Promise<ProducerPort> {
  // acks=all + idempotence: an acknowledged record is on every in-sync replica, never duplicated by retries.
  const producer = kafka.producer({
    "enable.idempotence": true,
    acks: -1,
    "linger.ms": 5,
  } as never);
  await producer.connect();
  return {
    async send(records: OutgoingRecord[]) {
      const byTopic = new Map<string, KafkaJSTypes.Message[]>();
      for (const r of records) {
        const list = byTopic.get(r.topic) ?? [];
        list.push({
          key: r.key ?? null,
          value: r.value,
          ...(r.headers ? { headers: r.headers } : {}),
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        });
        byTopic.set(r.topic, list);
      }
      const results = await producer
        .sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
        .catch((e: unknown) => {
          const code = (e as { code?: unknown }).code;
          if (code === KafkaJS.ErrorCodes.ERR_MSG_SIZE_TOO_LARGE || code === KafkaJS.ErrorCodes.ERR_RECORD_LIST_TOO_LARGE) {
            throw new RecordTooLargeError(`Kafka refused a record of this send as too large: ${(e as Error).message}`, { cause: e });
          }
          throw e;
        });
      return results.map((r) => ({ topic: r.topicName, partition: r.partition, offset: r.baseOffset ?? r.offset ?? "-1" }));
    },
    async stop() {
      await producer.flush({ timeout: 10_000 }).catch(() => undefined);
      await producer.disconnect();
    },
  };
}

async function createAdmin(kafka: KafkaJSTypes.Kafka): Promise<AdminPort> {
  const admin = kafka.admin();
  await admin.connect();
  return {
    async createTopics(topics) {
      await admin.createTopics({
        topics: topics.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    },
    listTopics: () => admin.listTopics(),
    async fetchCommittedOffsets(groupId, topic) {
      const result = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (result[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
    },
    async fetchTopicOffsets(topic) {
      const result = await admin.fetchTopicOffsets(topic);
      return result.map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
    },
    async partitionCounts(topics) {
      const existing = new Set(await admin.listTopics());
      const wanted = topics.filter((t) => existing.has(t));
      const metadata = wanted.length ? await admin.fetchTopicMetadata({ topics: wanted }) : [];
      return new Map(metadata.map((m) => [m.name, m.partitions.length]));
    },
    async deleteTopics(topics) {
      await admin.deleteTopics({ topics });
    },
    stop: () => admin.disconnect(),
  };
}

/** The client's own info chatter (rebalance notices, ...) is debug for Ferry; warnings and errors stay. */
function adaptLogger(log: Logger) {
  const entry = (level: "debug" | "info" | "warn" | "error") => (message: string, extra?: Record<string, unknown>) =>
    log[level]("kafka:client-log", { detail: message, ...(extra?.fac ? { facility: extra.fac } : {}) });
  const adapter = {
    info: entry("debug"),
    warn: entry("warn"),
    error: entry("error"),
    debug: entry("debug"),
    namespace: () => adapter,
    setLogLevel: () => undefined,
  };
  return adapter;
}
