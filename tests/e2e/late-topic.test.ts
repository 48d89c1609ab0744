import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { adminClient } from "../support/admin.ts";
import { startFerry } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { header, readRecords } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

test("a handler whose topic is created later consumes it within seconds, with a dead letter topic made for it", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = `late-${id}`;
  const table = `effects_late_${id}`;
  const dir = writeHandlersDir({ "late.ts": effectsHandler({ topic, table }) }, { [`0001_${table}.sql`]: effectsTableMigration(table) });
  const worker = suite.track({
    p: startFerry(["run", "--handlers", dir, "--group-prefix", `late-${id}`]),
    cleanup() {
      if (this.p.proc.exitCode === null) this.p.proc.kill("SIGKILL");
    },
  }).p;
  const missing = await worker.waitForLog("topic:missing");
  expect(missing).toMatchObject({ topic, handlers: ["late"], checkEveryMs: 2_000 });
  expect(missing.hint).toContain("Ferry looks every 2 s");
  const port = (await worker.waitForLog("http:listening")).port as number;
  const ready = (await (await fetch(`${adminClient(port).base}/readyz`)).json()) as { reasons: string[] };
  expect(ready.reasons).toContain(`handler late waits for topic ${topic} to be created (looked up every 2 s)`);

  // Only the topic: its dead letter topic is Ferry's to make.
  await suite.kafka().admin.createTopics([{ topic, partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }]);
  const createdAt = Date.now();
  const events = [1, 2, 3].map((n) => ({ topic, key: `k${n}`, value: JSON.stringify({ n, key: `b${n}`, seq: n }), headers: { "event-id": `${topic}-${n}` } }));
  events.push({ topic, key: "k4", value: JSON.stringify({ n: 4, key: "b4", seq: 4, fail: "permanent" }), headers: { "event-id": `${topic}-4` } });
  await suite.kafka().send(events);
  await waitFor("the first event applied", async () => (await sql`select 1 from ${sql(table)} limit 1`).length > 0, { timeoutMs: 60_000, intervalMs: 50 });
  const tookMs = Date.now() - createdAt;
  console.log(`the handler applied its first event ${tookMs} ms after the topic was created`);
  expect(tookMs).toBeLessThan(10_000);
  expect(worker.logs.find((l) => l.msg === "topic:appeared")).toMatchObject({ topic, handlers: ["late"] });
  expect(worker.logs.find((l) => l.msg === "topic:dead-letter-created")).toMatchObject({ topic: `${topic}.dlt`, partitions: 3 });

  await waitFor("3 effects", async () => Number((await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n) === 3, { timeoutMs: 30_000 });
  const [letter] = await readRecords(suite.kafka(), `${topic}.dlt`, 1);
  expect(header(letter!, "ferry-reason")).toBe("permanent");
  await waitFor("ready", async () => (await fetch(`${adminClient(port).base}/readyz`)).ok, { timeoutMs: 30_000 });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  await suite.kafka().admin.deleteTopics([topic, `${topic}.dlt`]);
});

test("a retry-topics handler whose topic is created later gets its retry topics made then, and retries through them", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = `late-retry-${id}`;
  const table = `effects_late_retry_${id}`;
  const retryTopics = [`${topic}.late.retry.1`, `${topic}.late.retry.2`];
  const dir = writeHandlersDir(
    { "late.ts": effectsHandler({ topic, table, retry: '{ mode: "topics", delays: ["1s", "1s"] }' }) },
    { [`0001_${table}.sql`]: effectsTableMigration(table) },
  );
  const worker = suite.track({
    p: startFerry(["run", "--handlers", dir, "--group-prefix", `late-retry-${id}`]),
    cleanup() {
      if (this.p.proc.exitCode === null) this.p.proc.kill("SIGKILL");
    },
  }).p;
  await worker.waitForLog("topic:missing");
  await suite.kafka().admin.createTopics([{ topic, partitions: 2, replicationFactor: 3, configs: { "min.insync.replicas": "2" } }]);
  // "transient" fails attempts 1 and 2: it goes through both retry topics and applies on the third.
  await suite.kafka().send([
    { topic, key: "k", value: JSON.stringify({ n: 1, key: "b1", seq: 1, fail: "transient" }), headers: { "event-id": `${topic}-1` } },
    { topic, key: "k", value: JSON.stringify({ n: 2, key: "b2", seq: 2 }), headers: { "event-id": `${topic}-2` } },
  ]);
  const rows = () => sql<{ n: number; attempt: number }[]>`select n, attempt from ${sql(table)} order by id`;
  await waitFor("both events applied", async () => (await rows()).length === 2, { timeoutMs: 60_000 });
  expect((await rows()).map((r) => [r.n, r.attempt])).toEqual([
    [2, 1],
    [1, 3],
  ]);
  expect(worker.logs.filter((l) => l.msg === "topic:retry-created").map((l) => [l.topic, l.partitions])).toEqual(retryTopics.map((t) => [t, 2]));
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  await suite.kafka().admin.deleteTopics([topic, `${topic}.dlt`, ...retryTopics]);
});
