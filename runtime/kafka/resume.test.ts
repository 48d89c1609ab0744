/**
 * A resumed partition is fetched again at once. librdkafka does not wake the broker thread that
 * fetches it, and a thread with nothing to fetch sleeps up to a second: every lane a busy worker
 * paused and resumed waited ~0.5 s for its next records (bench/README.md, "Resumed partitions").
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { testServices } from "../../tests/support/env.ts";
import { testKafka } from "../../tests/support/kafka.ts";
import { waitFor } from "../../tests/support/wait.ts";
import type { ConsumerClient, KafkaRecord } from "./port.ts";

const kafka = await testKafka();
afterAll(() => kafka.close());

/** A group member of its own on `topic` that takes whatever it is assigned, from the group's position. */
async function subscribedClient(prefix: string, topic: string): Promise<ConsumerClient> {
  const client: ConsumerClient = kafka.kafka.consumerClient(`${prefix}-${randomUUID().slice(0, 8)}`, {
    onRebalance(event) {
      if (event.kind === "assign") client.assign(event.partitions);
      else client.unassign(event.partitions);
    },
  });
  await client.connect();
  client.subscribe([topic]);
  return client;
}

test("after a pause, a resumed partition's next records arrive without waiting for librdkafka's idle second", async () => {
  const topic = await kafka.createTopic("resume", 1, false);
  // More than the prefetch bound (8 MiB): the partition is behind, as a lane that pauses is, and the
  // fetch in flight is not a long poll at the log's end (fetch.wait.max.ms, another wait).
  const value = Buffer.alloc(1_024, "v");
  await kafka.send(Array.from({ length: 12_000 }, () => ({ topic, key: null, value, headers: {} })));
  const tp = { topic, partition: 0 };
  const client = await subscribedClient("resume", topic);
  const fetchUntilRecords = async (deadlineMs: number): Promise<KafkaRecord[]> => {
    const until = performance.now() + deadlineMs;
    while (performance.now() < until) {
      const { records, failure } = await client.fetch(10);
      if (failure) throw failure.error;
      if (records.length > 0) return records;
    }
    return [];
  };
  try {
    expect((await fetchUntilRecords(60_000)).length).toBeGreaterThan(0);
    const waits: number[] = [];
    for (let cycle = 0; cycle < 9; cycle++) {
      client.pause([tp]);
      // Whatever was fetched for it is dropped with the pause; nothing more comes while paused.
      await client.fetch(10);
      client.resume([tp]);
      const resumedAt = performance.now();
      const records = await fetchUntilRecords(5_000);
      expect(records.length).toBeGreaterThan(0);
      waits.push(performance.now() - resumedAt);
    }
    waits.sort((a, b) => a - b);
    // Without the wake-up the wait is anywhere in librdkafka's idle second (median ~500 ms).
    expect(waits[Math.floor(waits.length / 2)]!).toBeLessThan(150);
  } finally {
    client.unsubscribe();
    await client.disconnect();
  }
}, 120_000);

test("seek fetches an assigned partition again from the given offset, past records already read", async () => {
  const topic = await kafka.createTopic("seek", 1, false);
  await kafka.send(Array.from({ length: 20 }, (_, i) => ({ topic, key: null, value: `v${i}`, headers: {} })));
  const client = await subscribedClient("seek", topic);
  const read = async (until: (offsets: string[]) => boolean): Promise<string[]> => {
    const offsets: string[] = [];
    const deadline = performance.now() + 60_000;
    while (!until(offsets) && performance.now() < deadline) {
      const { records, failure } = await client.fetch(100);
      if (failure) throw failure.error;
      offsets.push(...records.map((r) => r.offset));
    }
    return offsets;
  };
  try {
    expect((await read((o) => o.length >= 20)).at(-1)).toBe("19");
    expect(client.fetchPosition({ topic, partition: 0 })).toBe("20");
    client.seek({ topic, partition: 0, offset: "12" });
    expect(await read((o) => o.includes("19"))).toEqual(["12", "13", "14", "15", "16", "17", "18", "19"]);
  } finally {
    client.unsubscribe();
    await client.disconnect();
  }
}, 120_000);

test("stableEnd is the last stable offset: short of the end while a producer's transaction is open, past its marker once it commits", async () => {
  const topic = await kafka.createTopic("stable-end", 1, false);
  await kafka.send(Array.from({ length: 5 }, (_, i) => ({ topic, key: null, value: `v${i}`, headers: {} })));
  const producer = new KafkaJS.Kafka({ "bootstrap.servers": testServices().brokers }).producer({ "transactional.id": `ferry-test-${topic}` });
  await producer.connect();
  // Asking needs a connected client, not a member of a group.
  const client = kafka.kafka.consumerClient(`stable-end-${randomUUID().slice(0, 8)}`, { onRebalance: () => undefined });
  await client.connect();
  const tp = { topic, partition: 0 };
  try {
    const transaction = await producer.transaction();
    await transaction.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `t${i}`, partition: 0 })) });
    expect(await client.stableEnd(tp, 5_000)).toBe("5");
    await transaction.commit();
    // Ten records and the commit marker, once the coordinator has written it.
    await waitFor("the stable end past the commit marker", async () => (await client.stableEnd(tp, 5_000)) === "16", { timeoutMs: 10_000, intervalMs: 50 });
  } finally {
    await producer.disconnect();
    await client.disconnect();
  }
}, 60_000);
