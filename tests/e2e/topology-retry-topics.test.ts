// Retry topics as code: `topology apply --handlers` declares a retry-topics handler's retry topics
// and grants its principal read and write on them, and the compiled `ferry run`, as that principal
// (alice, SASL, ACLs enforced) and with topic creation off, retries through them with nothing but
// the applied ACLs: an event failing twice is applied on its third attempt, a permanent one dead-lettered.
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { testSql } from "../support/db.ts";
import { numberedEvents } from "../support/events.ts";
import { startFerry } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { testKafka } from "../support/kafka.ts";
import { saslConnection, testTopology } from "../support/topology.ts";
import { waitFor } from "../support/wait.ts";

const sql = testSql();
const t = testTopology(["User:alice"]);
const topic = `${t.prefix}.orders`;
const table = `effects_retry_topology_${randomUUID().slice(0, 8)}`;
const handlersDir = writeHandlersDir(
  { "record-effect.ts": effectsHandler({ topic, table, retry: '{ mode: "topics", delays: ["1s", "1s"] }' }) },
  { [`0001_${table}.sql`]: effectsTableMigration(table) },
);

afterAll(async () => {
  await t.cleanup();
  await sql.unsafe(`drop table if exists ${table}`);
  await sql.end();
});

test("topology apply --handlers makes a retry-topics handler's retry topics and ACLs; ferry run as its principal retries through them", async () => {
  const plan = await t.apply(`topics:\n  ${topic}: { partitions: 2 }\nservices:\n  worker:\n    principal: User:alice\n`, { handlersDir });
  const retryTopics = [`${topic}.record-effect.retry.1`, `${topic}.record-effect.retry.2`];
  expect(plan.changes.map((c) => ("topic" in c ? `${c.action} ${c.topic}` : `${c.action} ${c.acl.operation} ${c.acl.resourceName}`)).sort()).toEqual(
    [
      `create-topic ${topic}`,
      `create-topic ${topic}.dlt`,
      ...retryTopics.map((r) => `create-topic ${r}`),
      `add-acl read ${topic}`,
      `add-acl write ${topic}.dlt`,
      ...retryTopics.flatMap((r) => [`add-acl read ${r}`, `add-acl write ${r}`]),
      `add-acl read ${t.prefix}.record-effect`,
    ].sort(),
  );
  const created = plan.changes.filter((c) => "topic" in c && retryTopics.includes(c.topic));
  expect(created.map((c) => ("partitions" in c ? c.partitions : undefined))).toEqual([2, 2]);

  const alice = saslConnection("alice");
  const worker = startFerry(["run", "--handlers", handlersDir], {
    FERRY_KAFKA_BROKERS: alice.brokers.join(","),
    FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
    FERRY_KAFKA_SASL_USERNAME: alice.sasl!.username,
    FERRY_KAFKA_SASL_PASSWORD: alice.sasl!.password,
    FERRY_GROUP_PREFIX: t.prefix,
    FERRY_CREATE_DEAD_LETTER_TOPICS: "false",
  });
  const kafka = await testKafka();
  try {
    await worker.waitForLog("engine:running");
    const N = 10;
    const one = (n: number, fail: string) => ({
      topic,
      key: "k",
      value: JSON.stringify({ n, key: `${topic}-${fail}`, seq: n, fail }),
      headers: { "event-id": `${topic}-${fail}` },
    });
    // "transient" fails attempts 1 and 2: through both retry topics, applied on the third.
    await kafka.send([...numberedEvents(topic, N), one(N, "transient"), one(N + 1, "permanent")]);
    const rows = () => sql<{ n: number; attempt: number }[]>`select n, attempt from ${sql(table)} order by n`;
    await waitFor("every event applied, the transient one on its third attempt", async () => (await rows()).length === N + 1, { timeoutMs: 60_000 });
    expect((await rows()).find((r) => r.n === N)?.attempt).toBe(3);
    await waitFor("the permanent one dead-lettered", async () => {
      const dlt = await kafka.admin.fetchTopicOffsets(`${topic}.dlt`);
      return dlt.reduce((sum, p) => sum + Number(p.high), 0) === 1;
    });
    expect(worker.logs.filter((l) => l.msg === "event:retry-scheduled").map((l) => l.retryTopic)).toEqual(retryTopics);
    expect(worker.output()).not.toMatch(/authori[sz]ation failed/i);
  } finally {
    worker.proc.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    await kafka.close();
  }
});
