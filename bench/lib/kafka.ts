/**
 * The benchmark's Kafka side: topics of its own (deleted afterwards), a bulk pre-loader and a
 * paced producer, all over librdkafka's KafkaJS API, the client Ferry uses.
 */
import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";

type Producer = KafkaJS.Producer;

export interface BenchKafka {
  brokers: string;
  /** Creates `<prefix>-<random>` (RF 3, min.insync.replicas=2) and its dead letter topic. */
  /** `configs`: topic settings beyond RF 3 and min.insync.replicas 2. */
  createTopic(prefix: string, partitions: number, configs?: Record<string, string>): Promise<string>;
  /** Sum of the topic's high watermarks: how many records a consumer from the beginning reads. */
  endOffsets(topic: string): Promise<number>;
  /** Sum of a group's committed offsets on `topic` (partitions without a commit count 0). */
  committed(groupId: string, topic: string): Promise<number>;
  /** Produces everything as fast as acks=all allows; returns records/s. */
  preload(records: Iterable<OutgoingRecord>): Promise<{ records: number; perSecond: number }>;
  /** Produces at `ratePerS` for `seconds`, each record timestamped when it is handed to the client. */
  /**
   * Produces at `ratePerS` for `seconds`. `ackMs`: per record produced after `warmUpMs`, send →
   * Kafka's acknowledgement (acks=all, idempotent, linger 5 ms): Kafka's own produce latency.
   */
  producePaced(
    records: Iterator<OutgoingRecord>,
    ratePerS: number,
    seconds: number,
    warmUpMs?: number,
  ): Promise<{ records: number; achievedPerS: number; ackMs: number[] }>;
  /** Deletes every topic created here. */
  cleanup(): Promise<void>;
}

const quiet = { logLevel: KafkaJS.logLevel.ERROR };

export async function benchKafka(brokers: string): Promise<BenchKafka> {
  const kafka = new KafkaJS.Kafka({ "bootstrap.servers": brokers, "client.id": "ferry-bench", kafkaJS: quiet } as never);
  const admin = kafka.admin();
  await admin.connect();
  const created: string[] = [];
  let producer: Producer | undefined;
  const getProducer = async () => {
    if (producer) return producer;
    // What a well-behaved service would use: idempotent, acks=all, small linger.
    producer = kafka.producer({
      "enable.idempotence": true,
      acks: -1,
      "linger.ms": 5,
      "batch.num.messages": 10_000,
      "queue.buffering.max.messages": 500_000,
      "queue.buffering.max.kbytes": 1_048_576,
    } as never);
    await producer.connect();
    return producer;
  };
  const send = (p: Producer, messages: OutgoingRecord[]) =>
    p.send({
      topic: messages[0]!.topic,
      messages: messages.map((m) => ({ key: m.key ?? null, value: m.value, headers: m.headers as Record<string, string> })),
    });

  return {
    brokers,
    async createTopic(prefix, partitions, configs = {}) {
      const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
      const spec = (name: string) => ({
        topic: name,
        numPartitions: partitions,
        replicationFactor: 3,
        configEntries: [{ name: "min.insync.replicas", value: "2" }, ...Object.entries(configs).map(([name, value]) => ({ name, value }))],
      });
      created.push(topic, `${topic}.dlt`);
      await admin.createTopics({ topics: [spec(topic), spec(`${topic}.dlt`)] });
      return topic;
    },
    async endOffsets(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    },
    async committed(groupId, topic) {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (t?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    },
    async preload(records) {
      const p = await getProducer();
      const started = performance.now();
      const inFlight = new Set<Promise<unknown>>();
      let chunk: OutgoingRecord[] = [];
      let n = 0;
      const flush = async () => {
        const sent = send(p, chunk);
        chunk = [];
        inFlight.add(sent);
        void sent.finally(() => inFlight.delete(sent));
        // A few chunks in flight keep every broker busy without holding the whole topic in memory.
        if (inFlight.size >= 8) await Promise.race(inFlight);
      };
      for (const r of records) {
        chunk.push(r);
        n++;
        if (chunk.length === 2_000) await flush();
      }
      if (chunk.length > 0) await flush();
      await Promise.all(inFlight);
      return { records: n, perSecond: n / ((performance.now() - started) / 1000) };
    },
    async producePaced(records, ratePerS, seconds, warmUpMs = 0) {
      const p = await getProducer();
      const inFlight = new Set<Promise<unknown>>();
      const ackMs: number[] = [];
      const started = performance.now();
      let sent = 0;
      let exhausted = false;
      while (!exhausted) {
        const elapsed = (performance.now() - started) / 1000;
        if (elapsed >= seconds) break;
        const due = Math.floor(ratePerS * elapsed) - sent;
        const batch: OutgoingRecord[] = [];
        for (let i = 0; i < due; i++) {
          const next = records.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          batch.push(next.value);
        }
        if (batch.length > 0) {
          const sentAt = performance.now();
          const measured = sentAt - started >= warmUpMs;
          const promise = send(p, batch).then(() => {
            if (!measured) return;
            const ms = performance.now() - sentAt;
            for (let i = 0; i < batch.length; i++) ackMs.push(ms);
          });
          inFlight.add(promise);
          void promise.finally(() => inFlight.delete(promise));
          sent += batch.length;
        }
        await Bun.sleep(2);
      }
      const elapsed = (performance.now() - started) / 1000;
      await Promise.all(inFlight);
      return { records: sent, achievedPerS: sent / elapsed, ackMs };
    },
    async cleanup() {
      await producer?.disconnect().catch(() => undefined);
      if (created.length > 0)
        await admin.deleteTopics({ topics: created }).catch((e: unknown) => console.error(`bench: deleting topics failed: ${(e as Error).message}`));
      await admin.disconnect();
    },
  };
}
