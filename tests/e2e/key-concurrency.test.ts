/**
 * The README's key-level concurrency example, run as written (its provider URL, topic and table
 * filled in) in the compiled binary, against a local provider that answers after a few ms and
 * refuses the first call for some orders: events of different keys are charged side by side,
 * one key's strictly in order, and a refused call is retried holding only its own key.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { adminClient } from "../support/admin.ts";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

/** The README's first ```ts block with `concurrency:`. */
function readmeConcurrencyExample(): string {
  const readme = readFileSync(path.resolve(import.meta.dir, "../../README.md"), "utf8");
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("concurrency: {"));
  if (!block) throw new Error("README.md has no ```ts block with a concurrency example");
  return block;
}

// The provider: answers after 5 ms; refuses an order marked flaky the first time it sees it.
let inFlight = 0;
let mostInFlight = 0;
const calls: Array<{ orderId: string; ok: boolean }> = [];
const refused = new Set<string>();
const provider = Bun.serve({
  port: 0,
  async fetch(request) {
    const { orderId } = (await request.json()) as { orderId: string };
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    await Bun.sleep(5);
    inFlight--;
    const refuse = orderId.endsWith("-flaky") && !refused.has(orderId);
    if (refuse) refused.add(orderId);
    calls.push({ orderId, ok: !refuse });
    return new Response(refuse ? "try again" : "charged", { status: refuse ? 503 : 200 });
  },
});
afterAll(() => provider.stop(true));

test("the README's concurrency example charges keys side by side, each key in order, retrying a refused call within its key", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = await suite.kafka().createTopic("readme-keyed", 2);
  const table = `charges_${id}`;
  const handler = `import { defineHandler } from "ferry";
interface OrderPlaced { orderId: string; customerId: string; totalCents: number }
const providerUrl = ${JSON.stringify(`http://127.0.0.1:${provider.port}/charge`)};
${readmeConcurrencyExample()
  .replace('topic: "orders"', `topic: ${JSON.stringify(topic)}`)
  .replace("insert into charges", `insert into ${table}`)}`;
  const dir = writeHandlersDir(
    { "charge-orders.ts": handler },
    { [`0001_${table}.sql`]: `create table ${table} (id bigserial, order_id text primary key, charged_at timestamptz not null);` },
  );
  // 12 customers (the Kafka key), 20 orders each, in order; every 7th order refused once.
  const orders = Array.from({ length: 240 }, (_, i) => ({
    orderId: `${id}-${String(i).padStart(3, "0")}${i % 7 === 3 ? "-flaky" : ""}`,
    customerId: `c${i % 12}`,
    totalCents: 100 + i,
  }));
  await suite.kafka().send(orders.map((o) => ({ topic, key: o.customerId, value: JSON.stringify(o), headers: { "event-id": o.orderId } })));
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `keyed-${id}`]);
  try {
    const rows = await waitFor(
      "every order charged",
      async () => {
        const found = await sql<{ order_id: string }[]>`select order_id from ${sql(table)} order by id`;
        return found.length === orders.length ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    // Each order once (the primary key), each customer's in the order they were placed.
    const customerOf = new Map(orders.map((o, i) => [o.orderId, { customer: o.customerId, i }]));
    const last = new Map<string, number>();
    for (const { order_id } of rows) {
      const { customer, i } = customerOf.get(order_id)!;
      expect(i).toBeGreaterThan(last.get(customer) ?? -1);
      last.set(customer, i);
    }
    // Side by side: more than one call at the provider at once.
    expect(mostInFlight).toBeGreaterThan(1);
    const flaky = orders.filter((o) => o.orderId.endsWith("-flaky")).map((o) => o.orderId);
    expect(calls.filter((c) => !c.ok).map((c) => c.orderId)).toEqual(expect.arrayContaining(flaky));
    // A refused order waited out its backoff alone: orders of other customers placed after it
    // were charged before its retry. The first refused order: customer c3, placed third.
    const position = (orderId: string) => rows.findIndex((r) => r.order_id === orderId);
    const first = flaky[0]!;
    const overtaken = rows.slice(0, position(first)).filter((r) => customerOf.get(r.order_id)!.i > customerOf.get(first)!.i);
    expect(overtaken.length).toBeGreaterThan(0);
    expect(worker.logs.filter((l) => l.msg === "event:dead-lettering")).toEqual([]);
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql.unsafe(`drop table if exists ${table}`);
  }
});

test("an operator's pause holds a key-concurrent partition at once, even while a key waits out a long backoff", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = await suite.kafka().createTopic("keyed-pause", 1);
  const table = `charges_${id}`;
  const handler = `import { defineHandler } from "ferry";
interface OrderPlaced { orderId: string; customerId: string }
export default defineHandler<OrderPlaced>({
  topic: ${JSON.stringify(topic)},
  concurrency: { perPartition: 8 },
  retry: { attempts: 3, backoffMs: 3000, maxBackoffMs: 3000 },
  async handle(order, ctx) {
    const charge = await fetch(${JSON.stringify(`http://127.0.0.1:${provider.port}/charge`)}, { method: "POST", body: JSON.stringify(order), signal: ctx.signal });
    if (!charge.ok) throw new Error(\`the provider answered \${charge.status}\`);
    await ctx.sql\`insert into ${table} (order_id) values (\${order.orderId})\`;
  },
});
`;
  const dir = writeHandlersDir({ "charge-paused.ts": handler }, { [`0001_${table}.sql`]: `create table ${table} (id bigserial, order_id text primary key);` });
  // c0's first order is refused once: c0's next orders wait behind its 3 s backoff; c1's do not.
  const orders = [`${id}-0-flaky`, `${id}-1`, `${id}-2`, `${id}-3`].map((orderId, i) => ({ orderId, customerId: i === 2 ? "c1" : "c0" }));
  await suite.kafka().send(orders.map((o) => ({ topic, key: o.customerId, value: JSON.stringify(o), headers: { "event-id": o.orderId } })));
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `keyed-pause-${id}`]);
  const charged = async () => (await sql<{ order_id: string }[]>`select order_id from ${sql(table)} order by id`).map((r) => r.order_id);
  try {
    const { port } = (await worker.waitForLog("http:listening")) as { port: number };
    await waitFor("c1's order charged while c0 waits out its backoff", async () => (await charged()).includes(`${id}-2`), { timeoutMs: 90_000 });
    const admin = adminClient(port);
    expect((await admin.post("/api/handlers/charge-paused/pause", { topic, partitions: [0] })).status).toBe(200);
    // Past the backoff: paused, c0's retry and the orders behind it do not run.
    await Bun.sleep(4_000);
    expect(await charged()).toEqual([`${id}-2`]);
    expect((await admin.post("/api/handlers/charge-paused/resume", { topic, partitions: [0] })).status).toBe(200);
    const all = await waitFor(
      "every order charged after the resume",
      async () => {
        const rows = await charged();
        return rows.length === orders.length ? rows : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(all).toEqual([`${id}-2`, `${id}-0-flaky`, `${id}-1`, `${id}-3`]);
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql.unsafe(`drop table if exists ${table}`);
  }
});
