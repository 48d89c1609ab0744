/**
 * The checker's own Kafka clients: librdkafka configured here, not through runtime/kafka, so the
 * acknowledgements the checker trusts do not pass through the code under test.
 */
import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { deleteTestTopics } from "../../support/kafka.ts";
import type { DeadLetterSeen, Intent, Produced } from "./checker.ts";

type HeaderValue = string | Buffer;

/** One record to produce and what the test expects of it. */
export interface FaultRecord {
  topic: string;
  key?: string | Buffer | null;
  value: string | Buffer | null;
  /** An array sends the header once per value (a repeated header). */
  headers?: Record<string, HeaderValue | HeaderValue[]>;
  partition?: number;
  eventId: string | null;
  intent: Intent;
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

/** A logger that keeps the client's warnings and errors for the test to inspect, instead of printing them. */
function collectingLogger(lines: string[]) {
  const keep = (message: string) => {
    if (lines.length < 10_000) lines.push(message);
  };
  const logger = {
    info: () => undefined,
    debug: () => undefined,
    warn: keep,
    error: keep,
    namespace: () => logger,
    setLogLevel: () => undefined,
  };
  return logger;
}

export function faultKafka(brokers: string) {
  const clientLog: string[] = [];
  const kafka = new KafkaJS.Kafka({
    "bootstrap.servers": brokers,
    "client.id": "ferry-faults-checker",
    kafkaJS: { logger: collectingLogger(clientLog), logLevel: KafkaJS.logLevel.WARN },
  } as never);
  const admin = kafka.admin();
  const connected = admin.connect();
  const created: string[] = [];

  return {
    brokers,
    /** What librdkafka warned about (broker down, NOT_ENOUGH_REPLICAS, ...). */
    clientLog,

    /**
     * An idempotent acks=all producer that records, per record, the broker's acknowledgement or
     * the error: the checker's ground truth. Records are sent one per request promise (librdkafka
     * batches them anyway), so a failure is attributed to exactly the records it hit.
     */
    async ackProducer({ messageTimeoutMs = 60_000, retries, maxMessageBytes }: { messageTimeoutMs?: number; retries?: number; maxMessageBytes?: number } = {}) {
      const producer = kafka.producer({
        "enable.idempotence": retries === undefined,
        acks: -1,
        "linger.ms": 5,
        "message.timeout.ms": messageTimeoutMs,
        ...(retries === undefined ? {} : { retries }),
        ...(maxMessageBytes === undefined ? {} : { "message.max.bytes": maxMessageBytes }),
      } as never);
      await producer.connect();
      const produced: Produced[] = [];
      return {
        produced,
        async send(records: readonly FaultRecord[], { window = 2_000 }: { window?: number } = {}) {
          for (let i = 0; i < records.length; i += window) {
            await Promise.all(
              records.slice(i, i + window).map(async (r) => {
                const entry: Produced = { eventId: r.eventId, intent: r.intent };
                produced.push(entry);
                try {
                  const [meta] = await producer.send({
                    topic: r.topic,
                    messages: [
                      {
                        key: r.key ?? null,
                        value: r.value,
                        ...(r.headers ? { headers: r.headers } : {}),
                        ...(r.partition !== undefined ? { partition: r.partition } : {}),
                      },
                    ],
                  } as never);
                  entry.ack = { partition: meta!.partition, offset: String(meta!.baseOffset) };
                } catch (e) {
                  // `type` is librdkafka's name for the error (ERR_NOT_ENOUGH_REPLICAS, ERR__MSG_TIMED_OUT, ...).
                  const { type, code } = e as { type?: unknown; code?: unknown };
                  entry.error = `${String(type ?? code ?? "error")} ${(e as Error).message ?? String(e)}`;
                }
              }),
            );
          }
        },
        close: () => producer.disconnect(),
      };
    },

    /** Creates `<prefix>-<random>` and its dead letter topic: replication factor 3, min.insync.replicas=2. */
    async createTopic(prefix: string, partitions = 3, configs: Record<string, string> = {}): Promise<string> {
      await connected;
      const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
      const configEntries = Object.entries({ "min.insync.replicas": "2", ...configs }).map(([name, value]) => ({ name, value }));
      await admin.createTopics({ topics: [topic, `${topic}.dlt`].map((t) => ({ topic: t, numPartitions: partitions, replicationFactor: 3, configEntries })) });
      created.push(topic);
      return topic;
    },

    /** Every record of a topic up to its current end, read by a throwaway consumer. */
    async readAll(topic: string, { timeoutMs = 60_000 } = {}): Promise<ReadRecord[]> {
      await connected;
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
      const total = [...ends.values()].reduce((a, b) => a + b, 0n);
      if (total === 0n) return [];
      const records: ReadRecord[] = [];
      const next = new Map<number, bigint>();
      const consumer = kafka.consumer({ kafkaJS: { groupId: `faults-reader-${randomUUID()}`, fromBeginning: true, autoCommit: false } } as never);
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      const done = () => [...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end);
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const headers: Record<string, Buffer> = {};
            for (const [name, v] of Object.entries(m.headers ?? {})) {
              const last = Array.isArray(v) ? v[v.length - 1] : v;
              if (last !== undefined) headers[name] = Buffer.from(last as Buffer);
            }
            records.push({ partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers });
            next.set(batch.partition, BigInt(m.offset) + 1n);
          }
          if (done()) finish();
        },
      });
      try {
        const timedOut = Bun.sleep(timeoutMs).then(() => {
          throw new Error(`reading ${topic}: got ${records.length} records, expected ${total} within ${timeoutMs} ms`);
        });
        await Promise.race([finished, timedOut]);
        return records;
      } finally {
        await consumer.disconnect();
      }
    },

    /** The dead letters of a topic, as the checker reads them: only the `ferry-*` headers count. */
    async readDeadLetters(deadLetterTopic: string, options: { timeoutMs?: number } = {}): Promise<DeadLetterSeen[]> {
      const header = (r: ReadRecord, name: string) => r.headers[name]?.toString();
      return (await this.readAll(deadLetterTopic, options)).map((r) => ({
        reason: header(r, "ferry-reason") ?? "(none)",
        eventId: header(r, "ferry-event-id") ?? null,
        sourcePartition: Number(header(r, "ferry-source-partition")),
        sourceOffset: header(r, "ferry-source-offset") ?? "?",
        ...(header(r, "ferry-error-message") !== undefined ? { errorMessage: header(r, "ferry-error-message")! } : {}),
      }));
    },

    /** Each partition's end (high watermark). */
    async ends(topic: string): Promise<Map<number, bigint>> {
      await connected;
      return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    },

    /** True once the group has committed every partition of the topic up to its end. */
    async caughtUp(groupId: string, topic: string): Promise<boolean> {
      const [ends, committed] = await Promise.all([this.ends(topic), this.committed(groupId, topic)]);
      return [...ends].every(([p, end]) => (committed.get(p) ?? 0n) >= end);
    },

    /** The group's committed offsets in Kafka, per partition (0 where none). */
    async committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
      await connected;
      const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((result?.partitions ?? []).map((p) => [p.partition, BigInt(Math.max(0, Number(p.offset)))]));
    },

    /** Deletes topics a test created (or had its workers create). */
    async deleteTopics(topics: string[]): Promise<void> {
      await connected;
      await admin.deleteTopics({ topics });
    },

    async close() {
      await connected.catch(() => undefined);
      await deleteTestTopics({ listTopics: () => admin.listTopics(), deleteTopics: (topics) => admin.deleteTopics({ topics }) }, created);
      await admin.disconnect();
    },
  };
}

export type FaultKafka = ReturnType<typeof faultKafka>;

/** Totals of `Produced` for a report line: how many were acknowledged, failed, and with which error codes. */
export function produceSummary(produced: readonly Produced[]) {
  const errors: Record<string, number> = {};
  for (const p of produced) if (p.error) errors[p.error.split(" ")[0]!] = (errors[p.error.split(" ")[0]!] ?? 0) + 1;
  return { sent: produced.length, acknowledged: produced.filter((p) => p.ack).length, failed: produced.filter((p) => p.error).length, errors };
}

/** Everything a consumer can see of a record but its position: key, value and headers. */
export function fingerprint(r: ReadRecord): string {
  const headers = Object.entries(r.headers)
    .map(([k, v]) => `${k}=${v.toString("base64")}`)
    .sort();
  return JSON.stringify([r.key?.toString("base64") ?? null, r.value?.toString("base64") ?? null, headers]);
}
