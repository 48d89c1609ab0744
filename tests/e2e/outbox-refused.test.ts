/**
 * The compiled binary, a handler publishing one event its topic cannot take among normal ones: the
 * normal ones reach the next handler in order, the refused one is set aside with Kafka's reason,
 * said in the log, counted in /metrics and shown by the admin API, and nothing waits.
 */
import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { adminClient } from "../support/admin.ts";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

test("an event larger than its topic's max.message.bytes is set aside; the events around it reach the next handler in order", async () => {
  const id = randomUUID().slice(0, 8);
  const orders = await suite.kafka().createTopic("refused-orders", 1, false);
  const invoices = `refused-invoices-${id}`;
  await suite
    .kafka()
    .admin.createTopics([{ topic: invoices, partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2", "max.message.bytes": "100000" } }]);
  const table = `invoices_${id}`;
  const dir = writeHandlersDir(
    {
      "request-invoice.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ orderId: string; customer: string; n: number; noteBytes: number }>({
  topic: ${JSON.stringify(orders)},
  publishes: [{ topic: ${JSON.stringify(invoices)} }],
  async handle(order, ctx) {
    await ctx.publish(${JSON.stringify(invoices)}, { orderId: order.orderId, n: order.n, note: "x".repeat(order.noteBytes) }, { key: order.customer });
  },
});
`,
      "record-invoice.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ orderId: string; n: number }>({
  topic: ${JSON.stringify(invoices)},
  async handle(invoice, ctx) {
    await ctx.sql\`insert into ${table} (n, customer) values (\${invoice.n}, \${ctx.event.key})\`;
  },
});
`,
    },
    { [`0001_${table}.sql`]: `create table ${table} (seq bigserial primary key, n int not null, customer text not null);` },
  );
  // 12 orders of 3 customers; the 6th publishes 200 KB: under Ferry's 1 MB check at the publish, over the topic's 100 KB.
  await suite.kafka().send(
    Array.from({ length: 12 }, (_, n) => ({
      topic: orders,
      key: `c${n % 3}`,
      value: JSON.stringify({ orderId: `o-${n}`, customer: `c${n % 3}`, n, noteBytes: n === 5 ? 200_000 : 10 }),
      headers: { "event-id": `${id}-o-${n}` },
    })),
  );
  const token = `refused-admin-token-${id}`;
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `refused-${id}`], { FERRY_ADMIN_TOKEN: token });
  try {
    const refused = await worker.waitForLog("outbox:refused", 60_000);
    const [row] = await sql<Array<{ event_id: string; failure: { code: string; message: string } }>>`
      select event_id, failure from ferry_outbox where topic = ${invoices} and failed_at is not null`;
    expect(refused).toMatchObject({ level: "warn", eventId: row!.event_id, topic: invoices, handler: "request-invoice", errorCode: "ERR_MSG_SIZE_TOO_LARGE" });
    expect(row!.failure.code).toBe("ERR_MSG_SIZE_TOO_LARGE");
    expect(row!.failure.message).toContain("too large");

    // Downstream, per customer in the order published, without order 5.
    const recorded = () => sql.unsafe<Array<{ n: number; customer: string }>>(`select n, customer from ${table} order by seq`);
    await waitFor("11 invoices recorded downstream", async () => (await recorded()).length >= 11);
    const arrived = await recorded();
    const perCustomer = (c: string) => arrived.filter((r) => r.customer === c).map((r) => r.n);
    expect([perCustomer("c0"), perCustomer("c1"), perCustomer("c2")]).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7, 10],
      [2, 8, 11],
    ]);
    const [pending] = await sql<
      Array<{ n: number }>
    >`select count(*)::int as n from ferry_outbox where topic = ${invoices} and sent_at is null and failed_at is null`;
    expect(pending!.n).toBe(0);

    const listening = await worker.waitForLog("http:listening");
    const admin = adminClient(Number(listening.port), token);
    expect((await admin.json<{ failed: number }>("/api/outbox")).failed).toBeGreaterThanOrEqual(1);
    expect(await admin.metric(`ferry_outbox_failed_total{handler="request-invoice",topic="${invoices}"}`)).toBe(1);
    expect(await admin.metric("ferry_outbox_failed")).toBeGreaterThanOrEqual(1);
    // Nothing waited: the relay moved past it at once.
    expect(worker.logs.filter((l) => l.msg === "outbox:waiting")).toEqual([]);
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql.unsafe(`drop table if exists ${table}`);
    await sql`delete from ferry_outbox where topic = ${invoices}`;
    await suite
      .kafka()
      .admin.deleteTopics([invoices])
      .catch(() => undefined);
  }
}, 180_000);
