/**
 * A transactional producer upstream (Kafka Streams, any exactly-once producer) ends each partition
 * it writes with a transaction marker, an offset no consumer ever receives. Ferry's offsets must move
 * past it: before, the group showed a lag of one on every such partition until its next record
 * (`ferry_consumer_lag` 1, Kafka's committed offset one short), where a Java consumer committing its
 * position shows none.
 */
import { expect, test } from "bun:test";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { testServices } from "../support/env.ts";
import { numberedEvents } from "../support/events.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();

test("a transactional producer upstream: aborted records never applied, committed ones once, and the lag reaches 0 past the markers", async () => {
  const s = await suite.scenario("transactional", { partitions: 2 });
  const producer = new KafkaJS.Kafka({ "bootstrap.servers": testServices().brokers }).producer({ "transactional.id": `ferry-test-${s.topic}` });
  await producer.connect();
  const events = numberedEvents(s.topic, 40);
  const inTransaction = async (from: number, to: number, partition: number, end: "commit" | "abort") => {
    const tx = await producer.transaction();
    await tx.send({
      topic: s.topic,
      messages: events.slice(from, to).map((e) => ({ key: e.key, value: e.value as string, headers: e.headers as Record<string, string>, partition })),
    });
    await (end === "commit" ? tx.commit() : tx.abort());
  };
  try {
    // Partition 0: 20 records and a commit marker (end 21). Partition 1: 10 aborted records and
    // their abort marker, then 10 committed and a commit marker (end 22).
    await inTransaction(0, 20, 0, "commit");
    await inTransaction(20, 30, 1, "abort");
    await inTransaction(30, 40, 1, "commit");
  } finally {
    await producer.disconnect();
  }
  const worker = s.start();
  const port = (await worker.waitForLog("http:listening")).port as number;
  await s.waitForEffects(30);
  await s.waitForCommitted(21 + 22, 30_000);
  const lags = await waitFor(
    "ferry_consumer_lag 0 on both partitions",
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const values = text.split("\n").filter((l) => l.startsWith("ferry_consumer_lag{"));
      return values.length === 2 && values.every((l) => l.endsWith(" 0")) ? values : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  expect(lags).toHaveLength(2);
  const applied = (await s.effects()).map((e) => e.n).sort((a, b) => a - b);
  expect(applied).toEqual([...Array.from({ length: 20 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 30 + i)]);
  // Nothing to warn about: markers are not starvation. (The client's own lines, such as a
  // coordinator still loading on a fresh cluster, are not Ferry's to judge here.)
  const warned = worker.logs.filter((l) => (l.level === "warn" || l.level === "error") && /^(partition|consumer|offsets):/.test(String(l.msg)));
  expect(warned).toEqual([]);
}, 120_000);
