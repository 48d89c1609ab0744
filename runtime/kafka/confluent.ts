/**
 * The Kafka port over @confluentinc/kafka-javascript (librdkafka): producer and admin through its
 * KafkaJS-style API, the consumer client over librdkafka's own consumer (rdkafka-consumer.ts).
 * Under Bun the addon is our own build (scripts/build-kafka-addon.sh, runtime/kafka/bun-compat/).
 */
import { KafkaJS, librdkafkaVersion as linkedVersion } from "@confluentinc/kafka-javascript";
import type { KafkaJS as KafkaJSTypes } from "@confluentinc/kafka-javascript";
import { installKafkaBufferSlab } from "./buffer-slab.ts";
import { asKafkaError } from "./errors.ts";
import type { Logger } from "../log/logger.ts";
import { createFetchWaits } from "./fetch-waits.ts";
import { createRdKafkaClient, defaultMembership, FETCH_WAIT_MS, type GroupMembership } from "./rdkafka-consumer.ts";
import type { AdminPort, KafkaPort, OutgoingRecord, ProducerPort } from "./port.ts";

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  securityProtocol: "plaintext" | "sasl_plaintext" | "ssl" | "sasl_ssl";
  sasl?: { mechanism: string; username: string; password: string };
  /** Paths of PEM files: the CA that signed the brokers; a client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; keyPassword?: string };
}

/** The librdkafka version linked into the addon. */
export const librdkafkaVersion = (): string => linkedVersion;

/** librdkafka's settings for a connection; every client Ferry makes over it starts from these. */
export function librdkafkaSettings(connection: KafkaConnection): Record<string, unknown> {
  const { sasl, tls } = connection;
  return {
    "bootstrap.servers": connection.brokers.join(","),
    "client.id": connection.clientId,
    "security.protocol": connection.securityProtocol,
    ...(sasl ? { "sasl.mechanisms": sasl.mechanism, "sasl.username": sasl.username, "sasl.password": sasl.password } : {}),
    // librdkafka reads the files itself; its default ssl.endpoint.identification.algorithm=https
    // checks that each broker's certificate names the host it was reached at.
    ...(tls?.caFile ? { "ssl.ca.location": tls.caFile } : {}),
    ...(tls?.certFile ? { "ssl.certificate.location": tls.certFile } : {}),
    ...(tls?.keyFile ? { "ssl.key.location": tls.keyFile } : {}),
    ...(tls?.keyPassword ? { "ssl.key.password": tls.keyPassword } : {}),
  };
}

/** `membership`: the consumer groups' session, heartbeat, poll interval and static membership (Ferry's defaults unless given). */
export function createConfluentKafka(connection: KafkaConnection, log: Logger, membership: GroupMembership = defaultMembership): KafkaPort {
  const common = librdkafkaSettings(connection);
  installKafkaBufferSlab();
  // One for all the consumers this port makes: they share the process's worker threads.
  const fetchWaits = createFetchWaits({ maxWaitMs: FETCH_WAIT_MS });
  const kafkaLog = log.child({ component: "kafka" });
  const kafka = new KafkaJS.Kafka({
    ...common,
    kafkaJS: { logger: adaptLogger(kafkaLog), logLevel: KafkaJS.logLevel.WARN },
  } as never);

  return {
    log: kafkaLog,
    consumerClient: (groupId, hooks) => createRdKafkaClient(common, groupId, hooks, kafkaLog, membership, fetchWaits),
    producer: () => createProducer(kafka),
    admin: () => createAdmin(kafka),
  };
}

async function createProducer(kafka: KafkaJSTypes.Kafka): Promise<ProducerPort> {
  // acks=all + idempotence: an acknowledged record is on every in-sync replica, never duplicated by retries.
  const producer = kafka.producer({
    "enable.idempotence": true,
    acks: -1,
    "linger.ms": 5,
    // How long a topic the brokers do not know counts as "still propagating" before a send to it is
    // refused (librdkafka's default, 30 s, held the outbox relay's pipeline that long for one missing
    // topic). A topic created moments ago and refused anyway is tried again: its events wait, none is lost.
    "topic.metadata.propagation.max.ms": 5_000,
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
      const results = await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) }).catch((e: unknown) => {
        throw asKafkaError(e, `producing ${records.length} record(s) to ${[...byTopic.keys()].join(", ")}`);
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
      // Not admin.fetchOffsets: librdkafka's ListConsumerGroupOffsets crashes the whole process
      // (SIGSEGV in rd_kafka_cgrp_op) when the group's coordinator answers NOT_COORDINATOR, as on
      // a first contact with a new group (confluent-kafka-javascript#374, librdkafka#5040; seen
      // here in CI). A consumer of the group that never subscribes asks through its own group
      // handler, which looks the coordinator up again instead. It does not join the group.
      const [metadata] = await topicMetadata(admin, topic);
      const partitions = (metadata?.partitions ?? []).map((p) => ({ topic, partition: p.partitionId }));
      const reader = kafka.consumer({ "group.id": groupId, "enable.auto.commit": false } as never);
      await reader.connect();
      try {
        const committed = await reader.committed(partitions, 10_000);
        // No commit comes back as null (or a negative offset): "-1", as admin.fetchOffsets said it.
        return committed.map((c) => ({ partition: c.partition, offset: Number(c.offset ?? -1) >= 0 ? String(c.offset) : "-1" }));
      } finally {
        await reader.disconnect();
      }
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

/**
 * A topic's metadata. A topic created a moment ago may not be known yet to the broker asked
 * (UNKNOWN_TOPIC_OR_PART while it propagates): asked again for up to 5 s (seen in CI, a read of
 * committed offsets right after the topic was made).
 */
async function topicMetadata(admin: KafkaJSTypes.Admin, topic: string) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await admin.fetchTopicMetadata({ topics: [topic] });
    } catch (e) {
      if ((e as { type?: string }).type !== "ERR_UNKNOWN_TOPIC_OR_PART" || Date.now() > deadline) throw e;
      await Bun.sleep(100);
    }
  }
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
