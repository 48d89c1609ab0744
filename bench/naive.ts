/**
 * The naive consumer: the same librdkafka client and the same handler effect, but one
 * PostgreSQL transaction (inbox row, business key, effect row) and one Kafka offset commit per
 * message, with as many partitions in flight as Ferry. Runs for `seconds` after its first
 * message and prints one JSON line.
 *
 *   bun bench/naive.ts '{"brokers":"...","topic":"...","databaseUrl":"...","table":"...","seconds":15,"concurrency":8}'
 */
import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import postgres from "postgres";
import { parseSchema } from "../runtime/avro/parse-schema.ts";
import { unframe } from "../runtime/avro/wire-format.ts";
import { orderSchema } from "./lib/avro.ts";

const {
  brokers,
  topic,
  databaseUrl,
  table,
  seconds,
  concurrency,
  poolSize = 10,
  format = "json",
} = JSON.parse(process.argv[2]!) as {
  brokers: string;
  topic: string;
  databaseUrl: string;
  table: string;
  seconds: number;
  concurrency: number;
  poolSize?: number;
  format?: "avro" | "json";
};

const handler = "naive";
const sql = postgres(databaseUrl, { max: poolSize, onnotice: () => {} });
const kafka = new KafkaJS.Kafka({ "bootstrap.servers": brokers, "client.id": "ferry-bench-naive", kafkaJS: { logLevel: KafkaJS.logLevel.ERROR } } as never);
const consumer = kafka.consumer({
  kafkaJS: { groupId: `bench-naive-${randomUUID()}`, fromBeginning: true, autoCommit: false },
  "partition.assignment.strategy": "cooperative-sticky",
} as never);

interface Order {
  orderId: string;
  customerId: string;
  totalCents: number;
}
// Avro: decoded with the schema the bench registered (the writer's; no registry lookup, no resolution).
const avro = parseSchema(orderSchema, "bench order schema");
const decode = (value: Buffer): Order => (format === "avro" ? avro.fromBuffer(unframe(value).payload) : JSON.parse(value.toString())) as Order;
let count = 0;
let first = 0;
let stopping = false;
const done = Promise.withResolvers<void>();
await consumer.connect();
await consumer.subscribe({ topics: [topic] });
void consumer.run({
  partitionsConsumedConcurrently: concurrency,
  eachMessage: async ({ topic, partition, message }) => {
    if (stopping) return;
    if (first === 0) {
      first = performance.now();
      console.log(JSON.stringify({ event: "first" }));
      setTimeout(() => done.resolve(), seconds * 1000);
    }
    const eventId = message.headers?.["event-id"]?.toString() ?? `${topic}/${partition}/${message.offset}`;
    const order = decode(message.value!);
    const timestamp = Number(message.timestamp);
    await sql.begin(async (tx) => {
      const fresh = await tx`insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
        values (${handler}, ${eventId}, ${topic}, ${partition}, ${message.offset}, 'applied') on conflict do nothing returning 1`;
      if (fresh.length === 0) return;
      const claimed = await tx`insert into ferry_business_keys (handler, business_key, event_id)
        values (${handler}, ${order.orderId}, ${eventId}) on conflict do nothing returning 1`;
      if (claimed.length === 0) {
        await tx`update ferry_inbox set outcome = 'dead-lettered' where handler = ${handler} and event_id = ${eventId}`;
        return;
      }
      await tx`insert into ${tx(table)} (order_id, customer_id, total_cents, event_id, produced_at)
        values (${order.orderId}, ${order.customerId}, ${order.totalCents}, ${eventId}, to_timestamp(${timestamp}::bigint / 1000.0))`;
    });
    await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    count++;
  },
});
await done.promise;
stopping = true;
const elapsed = (performance.now() - first) / 1000;
console.log(JSON.stringify({ records: count, seconds: elapsed, eventsPerS: count / elapsed }));
await consumer.disconnect().catch(() => undefined);
await sql.end({ timeout: 5 });
process.exit(0);
