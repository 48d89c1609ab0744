/**
 * The ceiling: librdkafka (through the same KafkaJS API and consumer settings as Ferry) reading
 * a topic from the beginning and doing nothing with the records. One JSON line per event:
 * `{"event":"ready"}` once partitions are assigned, `{"event":"first"}` at the first record,
 * then the result.
 *
 * drain:   reads `total` records and reports records/s.
 * latency: reads until a line `{"since": <ms>}` arrives on stdin, then reports produce
 *          timestamp → receipt latency of the records produced since then (the Kafka floor
 *          under whatever Ferry adds).
 *
 *   bun bench/raw.ts '{"brokers":"...","topic":"...","total":210000,"batchSize":500,"concurrency":8}'
 */
import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";

const { brokers, topic, total, batchSize, concurrency, latency = false, consumerConfig = {} } = JSON.parse(process.argv[2]!) as {
  brokers: string;
  topic: string;
  total: number;
  batchSize: number;
  concurrency: number;
  latency?: boolean;
  /** librdkafka settings on top of Ferry's (runtime/kafka/confluent.ts), to try fetch settings. */
  consumerConfig?: Record<string, unknown>;
};
const emit = (line: Record<string, unknown>) => console.log(JSON.stringify(line));

const kafka = new KafkaJS.Kafka({ "bootstrap.servers": brokers, "client.id": "ferry-bench-raw", kafkaJS: { logLevel: KafkaJS.logLevel.ERROR } } as never);
const consumer = kafka.consumer({
  kafkaJS: { groupId: `bench-raw-${randomUUID()}`, fromBeginning: true, autoCommit: false },
  "partition.assignment.strategy": "cooperative-sticky",
  "js.consumer.max.batch.size": batchSize,
  ...consumerConfig,
} as never);

let count = 0;
let bytes = 0;
let first = 0;
// Latency mode: [produce timestamp, latency] per record.
const seen: Array<[number, number]> = [];
const done = Promise.withResolvers<number>();
await consumer.connect();
await consumer.subscribe({ topics: [topic] });
void consumer.run({
  partitionsConsumedConcurrently: concurrency,
  eachBatch: async ({ batch }) => {
    if (first === 0) {
      first = performance.now();
      emit({ event: "first" });
    }
    count += batch.messages.length;
    const now = Date.now();
    // Touch what any consumer needs, so nothing is left lazily undone: the value and the headers.
    for (const m of batch.messages) {
      bytes += (m.value?.length ?? 0) + Object.keys(m.headers ?? {}).length;
      if (latency) seen.push([Number(m.timestamp), now - Number(m.timestamp)]);
    }
    if (!latency && count >= total) done.resolve(performance.now());
  },
});
while (consumer.assignment().length === 0) await Bun.sleep(20);
emit({ event: "ready" });

if (latency) {
  const reader = console[Symbol.asyncIterator]();
  const { since } = JSON.parse(String((await reader.next()).value)) as { since: number };
  const ms = seen.filter(([ts]) => ts >= since).map(([, l]) => l).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  emit({ records: count, seconds: (performance.now() - first) / 1000, eventsPerS: 0, latency: { rows: ms.length, p50: at(0.5), p99: at(0.99), max: ms.at(-1) ?? 0 } });
} else {
  const end = await done.promise;
  const seconds = (end - first) / 1000;
  emit({ records: count, seconds, eventsPerS: count / seconds, bytes });
}
await consumer.disconnect();
process.exit(0);
