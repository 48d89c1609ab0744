/**
 * The ceiling: librdkafka (the same client, settings and fetch call as Ferry's consumer) reading
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
import { KafkaConsumer } from "@confluentinc/kafka-javascript";
import { FETCH_WAIT_MS, fetchSettings } from "../runtime/kafka/rdkafka-consumer.ts";

const {
  brokers,
  topic,
  total,
  batchSize,
  latency = false,
  consumerConfig = {},
} = JSON.parse(process.argv[2]!) as {
  brokers: string;
  topic: string;
  total: number;
  batchSize: number;
  concurrency: number;
  latency?: boolean;
  /** librdkafka settings on top of Ferry's (runtime/kafka/rdkafka-consumer.ts), to try fetch settings. */
  consumerConfig?: Record<string, unknown>;
};
const emit = (line: Record<string, unknown>) => console.log(JSON.stringify(line));

// The same client, settings and fetch call as Ferry's consumer (runtime/kafka/rdkafka-consumer.ts).
const consumer = new KafkaConsumer(
  {
    "bootstrap.servers": brokers,
    "client.id": "ferry-bench-raw",
    "group.id": `bench-raw-${randomUUID()}`,
    ...fetchSettings,
    ...consumerConfig,
  } as never,
  { "auto.offset.reset": "earliest" },
) as any;

let count = 0;
let bytes = 0;
let first = 0;
// Latency mode: [produce timestamp, latency] per record.
const seen: Array<[number, number]> = [];
const done = Promise.withResolvers<number>();
let stopping = false;
await new Promise<void>((resolve, reject) => consumer.connect({}, (err: unknown) => (err ? reject(err) : resolve())));
consumer.setDefaultConsumeTimeout(FETCH_WAIT_MS);
consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
consumer.subscribe([topic]);
const fetchLoop = (async () => {
  while (!stopping) {
    const messages: any[] = await new Promise((resolve) => consumer.consume(batchSize, (_err: unknown, ms: any[]) => resolve(ms ?? [])));
    if (messages.length === 0) continue;
    if (first === 0) {
      first = performance.now();
      emit({ event: "first" });
    }
    count += messages.length;
    const now = Date.now();
    // Touch what any consumer needs, so nothing is left lazily undone: the value and the headers.
    for (const m of messages) {
      bytes += (m.value?.length ?? 0) + (m.headers?.length ?? 0);
      if (latency) seen.push([Number(m.timestamp), now - Number(m.timestamp)]);
    }
    if (!latency && count >= total) done.resolve(performance.now());
  }
})();
while (consumer.assignments().length === 0) await Bun.sleep(20);
emit({ event: "ready" });

if (latency) {
  const reader = console[Symbol.asyncIterator]();
  const { since } = JSON.parse(String((await reader.next()).value)) as { since: number };
  const ms = seen
    .filter(([ts]) => ts >= since)
    .map(([, l]) => l)
    .sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  emit({
    records: count,
    seconds: (performance.now() - first) / 1000,
    eventsPerS: 0,
    latency: { rows: ms.length, p50: at(0.5), p99: at(0.99), max: ms.at(-1) ?? 0 },
  });
} else {
  const end = await done.promise;
  const seconds = (end - first) / 1000;
  emit({ records: count, seconds, eventsPerS: count / seconds, bytes });
}
stopping = true;
await fetchLoop;
await new Promise((resolve) => consumer.disconnect(resolve));
process.exit(0);
