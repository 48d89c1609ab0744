/**
 * No event can block its partition (issue 13), through the compiled binary on the real cluster:
 * events PostgreSQL refuses are dead-lettered with a precise reason while the rest of their
 * partition is applied; a failure every event shares waits (nothing dead-lettered) and the blocked
 * partition is reported; contention (deadlocks) never costs an event its attempts.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createAvroWorld } from "../support/avro-world.ts";
import { seededRandom } from "../support/events.ts";
import { adminClient } from "../support/admin.ts";
import { type FerryProcess, startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { testRegistry } from "../support/registry.ts";
import { header, readRecords } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const { sql, kafka, track } = useScenarios();
const registry = testRegistry();
afterAll(() => registry.cleanup());

const tracked = (p: FerryProcess): FerryProcess => {
  track({ cleanup: () => p.proc.exitCode === null && p.proc.kill("SIGKILL") });
  return p;
};
const portOf = async (p: FerryProcess) => Number((await p.waitForLog("http:listening")).port);

test("Avro orders whose ids PostgreSQL cannot store (U+0000, 10 KB) are dead-lettered as unstorable-business-key; the rest of their batch applies", async () => {
  const w = track(await createAvroWorld("unstorable", { kafka: kafka(), sql, registry }));
  expect((await w.schemas("build")).code).toBe(0);
  expect((await w.schemas("register")).code).toBe(0);
  const random = seededRandom(13);
  // Incompressible: PostgreSQL could not have stored it in the key's index even compressed.
  const big = Array.from({ length: 10_240 }, () => String.fromCharCode(33 + Math.floor(random() * 94))).join("");
  const order = (orderId: string, n: number) => ({
    orderId,
    customerId: "one-customer", // one Kafka key: one partition, in this order
    totalCents: 100 + n,
    items: [{ sku: `sku-${n}`, quantity: 1, unitPriceCents: 100 + n }],
    couponCode: null,
    placedAt: 1_760_000_000_000 + n,
  });
  const ids = [`${w.topic}-a`, `${w.topic}-nul\u0000x`, `${w.topic}-b`, `${w.topic}-${big}`, `${w.topic}-c`];
  const input = path.join(w.root, "orders.jsonl");
  writeFileSync(input, `${ids.map((id, n) => JSON.stringify(order(id, n))).join("\n")}\n`);
  expect((await w.produce(["--key-field", "customerId", "--input", input])).code).toBe(0);
  // A fresh group: all five arrive in one batch, so the good ones before and after share a transaction at first.
  const worker = tracked(w.start());
  await waitFor("the three storable orders", async () => (await w.rows()).length === 3, { timeoutMs: 60_000 });
  expect((await w.rows()).map((r) => r.order_id)).toEqual([`${w.topic}-a`, `${w.topic}-b`, `${w.topic}-c`]);
  const letters = await readRecords(kafka(), `${w.topic}.dlt`, 2);
  const byReason = letters.map((l) => ({
    reason: header(l, "ferry-reason"),
    code: header(l, "ferry-error-code"),
    class: header(l, "ferry-error-class"),
    message: header(l, "ferry-error-message"),
  }));
  expect(byReason).toEqual([
    { reason: "unstorable-business-key", code: "unstorable-business-key", class: "BusinessKeyError", message: expect.stringContaining("contains U+0000") },
    { reason: "unstorable-business-key", code: "unstorable-business-key", class: "BusinessKeyError", message: expect.stringContaining("bytes of UTF-8") },
  ]);
  expect(worker.logs.filter((l) => l.msg === "partition:waiting")).toEqual([]);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("a lone surrogate in a JSON key and a value the handler's statement refuses are dead-lettered with their reason and SQLSTATE; neighbours apply", async () => {
  const topic = await kafka().createTopic("refused", 1);
  const table = `refused_${topic.slice(-8)}`;
  const dir = writeHandlersDir(
    {
      "amounts.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ key: string; amount: string }>({
  topic: ${JSON.stringify(topic)},
  businessKey: (p) => p.key,
  retry: { attempts: 2, backoffMs: 10 },
  async handleBatch(items, ctx) {
    await ctx.sql\`insert into ${table} (event_id, amount)
      select * from unnest(\${items.map((i) => i.event.id)}::text[], \${items.map((i) => i.value.amount)}::int[])\`;
  },
});
`,
    },
    { [`0001_${table}.sql`]: `create table ${table} (event_id text primary key, amount int not null);` },
  );
  // Business keys are unique per handler forever: this run's carry its topic.
  const event = (n: number, key: string, amount: string) => ({
    topic,
    key: "k",
    value: `{"key":"${topic}-${key}","amount":"${amount}"}`,
    headers: { "event-id": `${topic}-${n}` },
  });
  await kafka().send([event(0, "a", "1"), event(1, "lone-\\ud800", "2"), event(2, "b", "3"), event(3, "c", "12x"), event(4, "d", "5")]);
  const worker = tracked(startFerry(["run", "--handlers", dir, "--group-prefix", `refused-${topic.slice(-8)}`]));
  await waitFor("the three good events", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === 3, { timeoutMs: 60_000 });
  const letters = await readRecords(kafka(), `${topic}.dlt`, 2);
  expect(letters.map((l) => [header(l, "ferry-event-id"), header(l, "ferry-reason"), header(l, "ferry-error-code")])).toEqual([
    [`${topic}-1`, "unstorable-business-key", "unstorable-business-key"],
    [`${topic}-3`, "rejected-by-database", "22P02"],
  ]);
  expect(header(letters[1]!, "ferry-error-message")).toContain('invalid input syntax for type integer: "12x"');
  // Refused data is not retried: one attempt.
  expect(header(letters[1]!, "ferry-attempts")).toBe("1");
  const line = worker.logs.find((l) => l.msg === "event:dead-lettering" && l.reason === "rejected-by-database");
  expect(line).toMatchObject({ errorClass: "DatabaseError", errorCode: "22P02", source: "handler" });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("a failure every event shares (a missing table) dead-letters nothing: the partition waits, is reported stalled, and resumes once fixed", async () => {
  const topic = await kafka().createTopic("systemic", 1);
  const table = `systemic_${topic.slice(-8)}`;
  const dir = writeHandlersDir({
    "writer.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ n: number }>({
  topic: ${JSON.stringify(topic)},
  retry: { attempts: 2, backoffMs: 10 },
  async handle(p, ctx) {
    await ctx.sql\`insert into ${table} (event_id, n) values (\${ctx.event.id}, \${p.n})\`;
  },
});
`,
  });
  await kafka().send(Array.from({ length: 20 }, (_, n) => ({ topic, key: "k", value: JSON.stringify({ n }), headers: { "event-id": `${topic}-${n}` } })));
  const worker = tracked(startFerry(["run", "--handlers", dir, "--group-prefix", `systemic-${topic.slice(-8)}`], { FERRY_PARTITION_STALL_MS: "2000" }));
  const admin = adminClient(await portOf(worker));
  const stalled = await worker.waitForLog("partition:stalled", 60_000);
  expect(stalled).toMatchObject({ partition: `${topic}:0`, offset: "0", errorClass: "DatabaseError", errorCode: "42P01", source: "handler" });
  expect(worker.logs.find((l) => l.msg === "partition:waiting")).toMatchObject({ why: expect.stringContaining("fail alike"), errorCode: "42P01" });
  const ready = await admin.get("/readyz");
  expect(ready.status).toBe(503);
  const reasons = ((await ready.json()) as { reasons: string[] }).reasons;
  expect(reasons.find((r) => r.includes(`partition ${topic}:0 has not advanced`))).toContain(`relation "${table}" does not exist`);
  expect(await admin.metric(`ferry_partition_stalled{handler="writer",topic="${topic}",partition="0"}`)).toBe(1);
  const { handlers } = await admin.json<{ handlers: Array<{ partitions: Array<{ stalled?: { offset: string; lastError: string } }> }> }>("/api/handlers");
  expect(handlers[0]!.partitions[0]!.stalled).toMatchObject({ offset: "0", lastError: expect.stringContaining("42P01") });
  // Nothing was dead-lettered for a failure that is not the events' own.
  expect((await kafka().admin.fetchTopicOffsets(`${topic}.dlt`)).reduce((n, p) => n + Number(p.high), 0)).toBe(0);
  // The deploy is fixed: every event applies once, the partition is reported recovered.
  await sql.unsafe(`create table ${table} (event_id text primary key, n int not null)`);
  await waitFor("all 20 applied", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === 20, { timeoutMs: 60_000 });
  await worker.waitForLog("partition:recovered", 30_000);
  await waitFor(
    "the stalled gauge cleared",
    async () => (await admin.metric(`ferry_partition_stalled{handler="writer",topic="${topic}",partition="0"}`)) === 0,
  );
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});

test("a handle() updating shared rows from 8 partitions at once: deadlocks cost no attempts, every transfer applies once, nothing is dead-lettered", async () => {
  const topic = await kafka().createTopic("contended", 8);
  const suffix = topic.slice(-8);
  const accounts = `accounts_${suffix}`;
  const transfers = `transfers_${suffix}`;
  const ACCOUNTS = 10;
  const N = 4_000;
  const dir = writeHandlersDir(
    {
      "transfer.ts": `import { defineHandler } from "ferry";
interface Transfer { from: number; to: number; amount: number }
// Written the natural way: debit, then credit. Two partitions moving money between the same two
// accounts in opposite directions lock them in opposite orders.
export default defineHandler<Transfer>({
  topic: ${JSON.stringify(topic)},
  retry: { attempts: 1 },
  async handle(t, ctx) {
    await ctx.sql\`update ${accounts} set balance = balance - \${t.amount} where id = \${t.from}\`;
    await ctx.sql\`update ${accounts} set balance = balance + \${t.amount} where id = \${t.to}\`;
    await ctx.sql\`insert into ${transfers} (event_id) values (\${ctx.event.id})\`;
  },
});
`,
    },
    {
      [`0001_${accounts}.sql`]: `create table ${accounts} (id int primary key, balance bigint not null);
insert into ${accounts} select g, 0 from generate_series(0, ${ACCOUNTS - 1}) g;
create table ${transfers} (event_id text primary key);`,
    },
  );
  const random = seededRandom(7);
  const expected = new Array<number>(ACCOUNTS).fill(0);
  const records = Array.from({ length: N }, (_, i) => {
    const from = Math.floor(random() * ACCOUNTS);
    const to = (from + 1 + Math.floor(random() * (ACCOUNTS - 1))) % ACCOUNTS;
    const amount = 1 + Math.floor(random() * 100);
    expected[from]! -= amount;
    expected[to]! += amount;
    return { topic, partition: i % 8, key: null, value: JSON.stringify({ from, to, amount }), headers: { "event-id": `${topic}-${i}` } };
  });
  await kafka().send(records);
  const [before] = await sql<{ deadlocks: number }[]>`select deadlocks::int from pg_stat_database where datname = current_database()`;
  const startedAt = Date.now();
  const worker = tracked(startFerry(["run", "--handlers", dir, "--group-prefix", `contended-${suffix}`]));
  // Before the handler was serialized under contention: 1,224 of them in 150 s (a deadlock a second).
  await waitFor(`${N} transfers`, async () => (await sql`select count(*)::int as n from ${sql(transfers)}`)[0]!.n === N, {
    timeoutMs: 90_000,
    intervalMs: 250,
  });
  const seconds = (Date.now() - startedAt) / 1000;
  const [after] = await sql<{ deadlocks: number }[]>`select deadlocks::int from pg_stat_database where datname = current_database()`;
  const balances = await sql<{ id: number; balance: string }[]>`select id, balance from ${sql(accounts)} order by id`;
  expect(balances.map((b) => Number(b.balance))).toEqual(expected);
  expect((await kafka().admin.fetchTopicOffsets(`${topic}.dlt`)).reduce((n, p) => n + Number(p.high), 0)).toBe(0);
  expect(worker.logs.filter((l) => l.msg === "event:dead-lettering")).toEqual([]);
  const contended = worker.logs.filter((l) => l.msg === "transaction:contended" || l.msg === "event:contended");
  for (const line of contended) expect(line).toMatchObject({ errorClass: "DatabaseError", errorCode: expect.stringMatching(/^(40P01|40001|55P03)$/) });
  console.log(
    `contention: ${N} transfers over 8 partitions in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s, start-up included), ` +
      `${after!.deadlocks - before!.deadlocks} deadlocks in PostgreSQL (the database's, other tests included), ${contended.length} contended transactions retried`,
  );
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 240_000);
