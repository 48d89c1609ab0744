/**
 * The README's `handleBatch` example, run as written (only its topic and table renamed) in the
 * compiled binary: a `long` near the edge of what Ferry decodes must go through its SQL, which
 * casts it to `bigint[]` (an `int[]` cast dead-lettered such an order as `exhausted`).
 */
import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

/** The README's first ```ts block that writes `handleBatch`. */
function readmeBatchExample(): string {
  const readme = readFileSync(path.resolve(import.meta.dir, "../../README.md"), "utf8");
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("async handleBatch("));
  if (!block) throw new Error("README.md has no ```ts block with a handleBatch example");
  return block;
}

test("the README's handleBatch example stores totals up to 9,007,199,254,740,990 and down to -2^52", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = await suite.kafka().createTopic("readme-batch", 1);
  const table = `order_totals_${id}`;
  const example = readmeBatchExample();
  expect(example).toContain("::bigint[]");
  const handler = `import { defineHandler } from "ferry";\ninterface OrderPlaced { orderId: string; totalCents: number }\n${example
    .replace('topic: "orders"', `topic: ${JSON.stringify(topic)}`)
    .replace("insert into order_totals", `insert into ${table}`)}`;
  const dir = writeHandlersDir(
    { "order-totals.ts": handler },
    { [`0001_${table}.sql`]: `create table ${table} (order_id text primary key, total_cents bigint not null);` },
  );
  const totals = { [`${id}-max`]: 9_007_199_254_740_990, [`${id}-small`]: 1250, [`${id}-min`]: -(2 ** 52) };
  await suite.kafka().send(
    Object.entries(totals).map(([orderId, totalCents]) => ({
      topic,
      key: orderId,
      value: JSON.stringify({ orderId, totalCents }),
      headers: { "event-id": orderId },
    })),
  );
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `readme-${id}`]);
  try {
    const rows = await waitFor(
      "the three orders in the table",
      async () => {
        const found = await sql<{ order_id: string; total: string }[]>`select order_id, total_cents::text as total from ${sql(table)} order by order_id`;
        return found.length === 3 ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect([...rows]).toEqual(
      Object.entries(totals)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([orderId, total]) => ({ order_id: orderId, total: String(total) })),
    );
    expect(worker.logs.filter((l) => l.msg === "event:dead-lettering")).toEqual([]);
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql.unsafe(`drop table if exists ${table}`);
  }
});

test("why int[] was wrong: PostgreSQL refuses 9,007,199,254,740,990 as an int", async () => {
  expect(sql`select ${[9_007_199_254_740_990]}::int[]`.then(() => "accepted")).rejects.toThrow("out of range for type integer");
  const [row] = await sql<{ v: string }[]>`select (${[9_007_199_254_740_990]}::bigint[])[1]::text as v`;
  expect(row!.v).toBe("9007199254740990");
});

/** The README's ```ts block that starts with this file's comment line. */
function readmeBlock(file: string): string {
  const readme = readFileSync(path.resolve(import.meta.dir, "../../README.md"), "utf8");
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(`// ${file}`));
  if (!block) throw new Error(`README.md has no \`\`\`ts block for ${file}`);
  return block;
}

test("the README's two-step example: each order yields one invoice through ctx.publish; a dead-lettered order none", async () => {
  const id = randomUUID().slice(0, 8);
  const orders = await suite.kafka().createTopic("readme-orders", 2);
  const requests = await suite.kafka().createTopic("readme-invoice-requested", 2);
  const table = `invoices_${id}`;
  const rename = (code: string) =>
    code
      .replaceAll('"invoice-requested"', JSON.stringify(requests))
      .replace('topic: "orders"', `topic: ${JSON.stringify(orders)}`)
      .replace("insert into invoices", `insert into ${table}`);
  const dir = writeHandlersDir(
    { "request-invoice.ts": rename(readmeBlock("handlers/request-invoice.ts")), "record-invoice.ts": rename(readmeBlock("handlers/record-invoice.ts")) },
    { [`0001_${table}.sql`]: `create table ${table} (id bigserial primary key, order_id text not null, amount_cents bigint not null);` },
  );
  // Business keys are kept forever per handler: order ids of this run only.
  const order = (name: string, totalCents: number, eventId = name) => ({
    topic: orders,
    key: `${id}-${name}`,
    value: JSON.stringify({ orderId: `${id}-${name}`, customerId: "c-1", totalCents }),
    headers: { "event-id": `${id}-${eventId}` },
  });
  await suite.kafka().send([
    order("o-1", 1250),
    order("o-2", 990),
    order("o-1", 1250), // a redelivery: the same event id
    order("o-2", 990, "o-2-again"), // the same order under a new event id: a functional duplicate
    order("o-3", -5), // refused after nothing was published
  ]);
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `readme-chain-${id}`]);
  try {
    const invoices = await waitFor(
      "two invoices",
      async () => {
        const rows = await sql<{ order_id: string; amount_cents: string }[]>`select order_id, amount_cents::text from ${sql(table)} order by order_id`;
        return rows.length >= 2 ? rows : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    await waitFor("the order that failed, dead-lettered", () => worker.logs.some((l) => l.msg === "event:dead-lettering"), { timeoutMs: 30_000 });
    await Bun.sleep(1_000); // a third invoice would have arrived by now
    expect([...(await sql`select order_id, amount_cents::text from ${sql(table)} order by order_id`)]).toEqual([...invoices]);
    expect([...invoices]).toEqual([
      { order_id: `${id}-o-1`, amount_cents: "1250" },
      { order_id: `${id}-o-2`, amount_cents: "990" },
    ]);
    // Both requests went out (the invoices came from them); by default a row Kafka acknowledged is deleted.
    await waitFor(
      "the outbox emptied",
      async () => (await sql<{ n: number }[]>`select count(*)::int as n from ferry_outbox where topic = ${requests}`)[0]!.n === 0,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql`delete from ferry_outbox where topic = ${requests}`;
    await sql.unsafe(`drop table if exists ${table}`);
  }
});

test("a handler publishing to a topic that does not exist: said at start, its events wait in the outbox, /readyz names the backlog", async () => {
  const id = randomUUID().slice(0, 8);
  const orders = await suite.kafka().createTopic("outbox-missing-orders", 1);
  const missing = `outbox-missing-${id}`;
  const dir = writeHandlersDir({
    "request-invoice.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ orderId: string }>({
  topic: ${JSON.stringify(orders)},
  publishes: [{ topic: ${JSON.stringify(missing)} }],
  async handle(order, ctx) {
    await ctx.publish(${JSON.stringify(missing)}, { orderId: order.orderId }, { key: order.orderId });
  },
});
`,
  });
  await suite.kafka().send([{ topic: orders, key: "o-1", value: JSON.stringify({ orderId: "o-1" }), headers: { "event-id": `${id}-o-1` } }]);
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `outbox-missing-${id}`], { FERRY_OUTBOX_READY_AGE_MS: "1000" });
  try {
    expect(await worker.waitForLog("outbox:topic-missing")).toMatchObject({ handler: "request-invoice", topics: [missing] });
    const listening = await worker.waitForLog("http:listening");
    const url = `http://127.0.0.1:${listening.port}`;
    const reasons = await waitFor(
      "/readyz to name the outbox",
      async () => {
        const body = (await (await fetch(`${url}/readyz`)).json()) as { reasons: string[] };
        return body.reasons.find((r) => r.startsWith("the outbox has 1 unsent event(s)"));
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(reasons).toContain("over FERRY_OUTBOX_READY_AGE_MS=1000");
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_outbox where topic = ${missing} and sent_at is null`;
    expect(row!.n).toBe(1);
  } finally {
    // Not a test of stopping: a graceful stop waits out the send stuck on the missing topic (~20 s).
    worker.proc.kill("SIGKILL");
    await worker.exited;
    await sql`delete from ferry_outbox where topic = ${missing}`;
  }
});
