// "A worker can never start and then fail on a missing ACL": after `topology apply --handlers`,
// the compiled `ferry run` works as the service's own principal (alice, SASL, ACLs enforced)
// with nothing but the applied ACLs: it consumes, commits, and dead-letters.
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
const table = `effects_topology_${randomUUID().slice(0, 8)}`;
const handlersDir = writeHandlersDir({ "record-effect.ts": effectsHandler({ topic, table }) }, { [`0001_${table}.sql`]: effectsTableMigration(table) });

afterAll(async () => {
  await t.cleanup();
  await sql.unsafe(`drop table if exists ${table}`);
  await sql.end();
});

test("ferry run as the service's principal needs no ACL beyond what topology apply --handlers made", async () => {
  // The file declares only the topic and who runs the worker; --handlers adds the rest.
  const plan = await t.apply(`topics:\n  ${topic}: { partitions: 2 }\nservices:\n  worker:\n    principal: User:alice\n`, { handlersDir });
  expect(plan.changes.map((c) => ("topic" in c ? `${c.action} ${c.topic}` : `${c.action} ${c.acl.operation} ${c.acl.resourceName}`)).sort()).toEqual(
    [
      `create-topic ${topic}`,
      `create-topic ${topic}.dlt`,
      `add-acl read ${topic}`,
      `add-acl write ${topic}.dlt`,
      `add-acl read ${t.prefix}.record-effect`,
    ].sort(),
  );

  const alice = saslConnection("alice");
  const worker = startFerry(["run", "--handlers", handlersDir], {
    FERRY_KAFKA_BROKERS: alice.brokers.join(","),
    FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
    FERRY_KAFKA_SASL_USERNAME: alice.sasl!.username,
    FERRY_KAFKA_SASL_PASSWORD: alice.sasl!.password,
    FERRY_GROUP_PREFIX: t.prefix,
    // Creating topics needs a CREATE grant alice does not have: apply made them.
    FERRY_CREATE_DEAD_LETTER_TOPICS: "false",
  });
  const kafka = await testKafka();
  try {
    await worker.waitForLog("engine:running");
    const N = 20;
    await kafka.send([
      ...numberedEvents(topic, N),
      { topic, key: "k", value: JSON.stringify({ n: N, key: `${topic}-bad`, seq: 1, fail: "permanent" }), headers: { "event-id": `${topic}-bad` } },
    ]);
    const committed = async () =>
      (await kafka.admin.fetchCommittedOffsets(`${t.prefix}.record-effect`, topic)).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    await waitFor("every event committed by the worker", async () => (await committed()) === N + 1, { timeoutMs: 60_000 });
    const [rows] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`;
    expect(rows!.n).toBe(N);
    const dlt = await kafka.admin.fetchTopicOffsets(`${topic}.dlt`);
    expect(dlt.reduce((sum, p) => sum + Number(p.high), 0)).toBe(1);
    expect(worker.output()).not.toMatch(/authori[sz]ation failed/i);
  } finally {
    worker.proc.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    await kafka.close();
  }
});
