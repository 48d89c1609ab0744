/**
 * Partitions added to a consumed topic while the worker runs (consume/partition-growth.ts). Before,
 * the records produced to them waited for librdkafka's own metadata refresh: applied 301 s after
 * the partitions were added, no line in between.
 */
import { expect, test } from "bun:test";
import { AdminClient } from "@confluentinc/kafka-javascript";
import { testServices } from "../support/env.ts";
import { numberedEvents } from "../support/events.ts";
import { testKafka } from "../support/kafka.ts";
import { useScenarios } from "../support/suite.ts";

const suite = useScenarios();

test("records on partitions added to the topic while the worker runs are applied within seconds, each once", async () => {
  const s = await suite.scenario("grown", { partitions: 2 });
  const events = numberedEvents(s.topic, 40);
  await suite.kafka().send(events.slice(0, 20));
  const worker = s.start();
  await s.waitForEffects(20, 30_000);

  const admin = AdminClient.create({ "bootstrap.servers": testServices().brokers });
  try {
    await new Promise<void>((resolve, reject) => admin.createPartitions(s.topic, 4, 10_000, (e) => (e ? reject(e) : resolve())));
  } finally {
    admin.disconnect();
  }
  const addedAt = Date.now();
  // A producer of its own: the file's producer, too, would see the new partitions only at its next metadata refresh.
  const fresh = await testKafka();
  try {
    await fresh.send(events.slice(20, 40).map((e, i) => ({ ...e, partition: 2 + (i % 2) })));
  } finally {
    await fresh.close();
  }
  await s.waitForEffects(40, 45_000);
  const tookMs = Date.now() - addedAt;
  console.log(`records on the added partitions applied ${tookMs} ms after the partitions were added`);
  expect(tookMs).toBeLessThan(15_000);
  expect(worker.logs.find((l) => l.msg === "topic:partitions-added")).toMatchObject({ topic: s.topic, from: 2, to: 4, handlers: ["record-effect"] });
  expect(await s.count()).toEqual({ rows: 40, ids: 40 });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 90_000);

test("partitions added to a topic whose handler retries through topics: the retry topics left smaller are named in an error", async () => {
  const s = await suite.scenario("grown-retry", { partitions: 2, retry: '{ mode: "topics", delays: ["1s"] }' });
  const worker = s.start();
  await worker.waitForLog("partitions:assigned", 30_000);
  const admin = AdminClient.create({ "bootstrap.servers": testServices().brokers });
  try {
    await new Promise<void>((resolve, reject) => admin.createPartitions(s.topic, 3, 10_000, (e) => (e ? reject(e) : resolve())));
  } finally {
    admin.disconnect();
  }
  const said = await worker.waitForLog("topic:retry-topics-too-small", 20_000);
  expect(said).toMatchObject({ level: "error", topic: s.topic, partitions: 3, retryTopics: [`${s.topic}.record-effect.retry.1 (2)`] });
  expect(String(said.action)).toContain("ferry topology apply");
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 60_000);
