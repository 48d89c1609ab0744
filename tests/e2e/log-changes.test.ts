/**
 * The Kafka log under a worker changes in ways its offsets alone do not show (consume/log-changes.ts):
 * retention deletes records the handler has not applied yet, or the topic is deleted and created
 * again. Before, both were silent: 50 records deleted under a stopped worker were skipped without a
 * line, and after a re-created topic the new log's records below the offset PostgreSQL held (all of
 * them, in a small topic) were dropped as if applied, stopped or running.
 */
import { expect, test } from "bun:test";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { adminClient } from "../support/admin.ts";
import { testServices } from "../support/env.ts";
import { numberedEvents } from "../support/events.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

/** Kafka's deleteRecords: what retention does to a partition's oldest segments, at an exact offset. */
async function deleteRecordsBefore(topic: string, offset: number) {
  const admin = new KafkaJS.Kafka({ "bootstrap.servers": testServices().brokers, kafkaJS: { logLevel: KafkaJS.logLevel.ERROR } } as never).admin();
  await admin.connect();
  try {
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(offset) }] });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topic (unless `deleted` already) and creates it again with the same name: a new, empty log. */
async function recreate(topic: string, { deleted = false } = {}) {
  const { admin } = suite.kafka();
  if (!deleted) await admin.deleteTopics([topic]);
  await waitFor(`${topic} deleted`, async () => !(await admin.listTopics()).includes(topic), { timeoutMs: 30_000, intervalMs: 100 });
  await waitFor(
    `${topic} created again`,
    async () => {
      await admin.createTopics([{ topic, partitions: 1, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }]).catch(() => undefined);
      return (await admin.fetchTopicOffsets(topic).catch(() => [])).length === 1;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

const appliedNumbers = async (table: string) => (await sql<{ n: number }[]>`select n from ${sql(table)} order by n`).map((r) => r.n).join(",");
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test("records deleted by retention while the worker was stopped or paused are skipped with an error naming the offsets lost, and counted", async () => {
  const s = await suite.scenario("retention", { partitions: 1 });
  const events = numberedEvents(s.topic, 300);
  await suite.kafka().send(events.slice(0, 100));
  let worker = s.start();
  await s.waitForEffects(100);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);

  // Stopped: 100 more, of which retention takes the first 50.
  await suite.kafka().send(events.slice(100, 200));
  await deleteRecordsBefore(s.topic, 150);
  worker = s.start();
  const port = (await worker.waitForLog("http:listening")).port as number;
  const lost = await worker.waitForLog("partition:records-lost", 30_000);
  expect(lost).toMatchObject({ level: "error", handler: "record-effect", partition: `${s.topic}:0`, from: "100", to: "150", skipped: "50" });
  await s.waitForEffects(150, 30_000);

  // Running but behind (an operator's pause holds it): retention takes 50 of the next 100.
  await adminClient(port).json("/api/handlers/record-effect/pause", {});
  await suite.kafka().send(events.slice(200, 300));
  await deleteRecordsBefore(s.topic, 250);
  await adminClient(port).json("/api/handlers/record-effect/resume", {});
  await s.waitForEffects(200, 30_000);
  const second = worker.logs.filter((l) => l.msg === "partition:records-lost")[1];
  expect(second).toMatchObject({ partition: `${s.topic}:0`, from: "200", to: "250", skipped: "50" });

  // Paused again, and retention takes every record that came meanwhile: nothing arrives to show the gap.
  await adminClient(port).json("/api/handlers/record-effect/pause", {});
  await suite.kafka().send(numberedEvents(s.topic, 20, { prefix: `${s.topic}-gone` }));
  await deleteRecordsBefore(s.topic, 320);
  await adminClient(port).json("/api/handlers/record-effect/resume", {});
  const third = await waitFor("a third partition:records-lost", () => worker.logs.filter((l) => l.msg === "partition:records-lost")[2], { timeoutMs: 30_000 });
  expect(third).toMatchObject({ partition: `${s.topic}:0`, from: "300", to: "320", skipped: "20" });
  await waitFor(
    "PostgreSQL's offset at the log start",
    async () => (await sql`select next_offset::int as n from ferry_offsets where group_id = ${s.groupId}`)[0]?.n === 320,
    { timeoutMs: 10_000 },
  );

  expect(await appliedNumbers(s.table)).toBe([...range(0, 100), ...range(150, 200), ...range(250, 300)].join(","));
  const series = `{handler="record-effect",topic="${s.topic}"}`;
  expect(await adminClient(port).metric(`ferry_offsets_lost_total${series}`)).toBe(120);
  expect(await adminClient(port).metric(`ferry_partition_log_changes_total{handler="record-effect",topic="${s.topic}",kind="records-deleted"}`)).toBe(3);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 90_000);

test("a topic deleted and created again, while the worker is stopped or running, is read from its start with a warning, each event applied once", async () => {
  const s = await suite.scenario("recreated", { partitions: 1 });
  await suite.kafka().send(numberedEvents(s.topic, 100, { prefix: `${s.topic}-old` }));
  let worker = s.start();
  await s.waitForEffects(100);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);

  // Stopped: PostgreSQL holds offset 100, the new log ends at 40.
  await recreate(s.topic);
  await suite.kafka().send(numberedEvents(s.topic, 40, { prefix: `${s.topic}-new` }));
  worker = s.start();
  const replaced = await worker.waitForLog("partition:log-replaced", 30_000);
  expect(replaced).toMatchObject({ level: "warn", partition: `${s.topic}:0`, storedOffset: "100", logStart: "0", logEnd: "40" });
  await s.waitForEffects(140, 30_000);

  // Running: the lane holds offset 40, the newer log gets 30.
  await recreate(s.topic);
  await suite.kafka().send(numberedEvents(s.topic, 30, { prefix: `${s.topic}-newer` }));
  await s.waitForEffects(170, 45_000);
  const again = worker.logs.filter((l) => l.msg === "partition:log-replaced")[1];
  expect(again).toMatchObject({ partition: `${s.topic}:0`, storedOffset: "40", logStart: "0" });

  expect(await s.count()).toEqual({ rows: 170, ids: 170 });
  await waitFor(
    "PostgreSQL's offset at the newer log's end",
    async () => (await sql`select next_offset::int as n from ferry_offsets where group_id = ${s.groupId} and topic = ${s.topic}`)[0]?.n === 30,
    { timeoutMs: 10_000 },
  );
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 120_000);

test("a topic deleted under the running worker is said at once, and taken up from its start when created again", async () => {
  const s = await suite.scenario("deleted", { partitions: 1 });
  await suite.kafka().send(numberedEvents(s.topic, 10, { prefix: `${s.topic}-old` }));
  const worker = s.start();
  await s.waitForEffects(10);
  const { admin } = suite.kafka();
  await admin.deleteTopics([s.topic]);
  const deleted = await worker.waitForLog("topic:deleted", 20_000);
  expect(deleted).toMatchObject({ level: "warn", topic: s.topic, handlers: ["record-effect"] });
  await recreate(s.topic, { deleted: true });
  const createdAt = Date.now();
  await suite.kafka().send(numberedEvents(s.topic, 5, { prefix: `${s.topic}-new` }));
  await s.waitForEffects(15, 30_000);
  console.log(`the re-created topic's events applied ${Date.now() - createdAt} ms after its creation`);
  expect(await s.count()).toEqual({ rows: 15, ids: 15 });
  expect(worker.logs.find((l) => l.msg === "partition:log-replaced")).toMatchObject({ partition: `${s.topic}:0`, storedOffset: "10", logStart: "0" });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 90_000);

test("a group Ferry takes over, whose Kafka commit retention passed, goes on from the log start with the loss said", async () => {
  const s = await suite.scenario("taken-over", { partitions: 1 });
  await suite.kafka().send(numberedEvents(s.topic, 50));
  // The group's previous consumer got to offset 10; Ferry's database holds nothing for it.
  const previous = suite.kafka().kafka.consumerClient(s.groupId, { onRebalance: () => undefined });
  await previous.connect();
  try {
    await previous.commit([{ topic: s.topic, partition: 0, offset: "10" }]);
  } finally {
    await previous.disconnect();
  }
  await deleteRecordsBefore(s.topic, 30);
  const worker = s.start();
  const lost = await worker.waitForLog("partition:records-lost", 30_000);
  expect(lost).toMatchObject({ partition: `${s.topic}:0`, from: "10", to: "30", skipped: "20" });
  await s.waitForEffects(20, 30_000);
  expect(await appliedNumbers(s.table)).toBe(range(30, 50).join(","));
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 60_000);
