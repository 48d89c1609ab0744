/**
 * A chain of two services, each SIGKILLed again and again: orders → request-invoice (publishes
 * invoice-requested through the outbox) → record-invoice (the invoice effect). The orders stream
 * carries technical duplicates (the same record again), functional duplicates (a new event id for
 * the same order) and orders whose handler fails permanently after publishing. The workers die
 * inside the handler's transaction, between the outbox commit and the relay's send, between the
 * send and its mark, between the PostgreSQL and the Kafka commit, and from outside at random.
 *
 * Then: every order yields exactly one invoice effect (none for an order dead-lettered), every
 * emitted event id stands for one order only, and the intermediate topic's copies of one event id
 * (re-sends after a crash) are byte-identical.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { seededRandom } from "../support/events.ts";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { waitFor } from "../support/wait.ts";
import { faultKafka, fingerprint, produceSummary, type ReadRecord } from "./support/kafka.ts";
import { keepLog, long, reportCounts, seed } from "./support/report.ts";
import { faultWorkload } from "./support/workload.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

const requestInvoice = (orders: string, invoices: string) => `import { defineHandler } from "ferry";

interface Order { n: number; key: string; seq: number; fail?: string }

export default defineHandler<Order>({
  topic: ${JSON.stringify(orders)},
  businessKey: (o) => o.key,
  retry: { attempts: 3, backoffMs: 20, maxBackoffMs: 200 },
  publishes: [{ topic: ${JSON.stringify(invoices)} }],
  async handle(o, ctx) {
    await ctx.publish(${JSON.stringify(invoices)}, { orderKey: o.key, amountCents: o.n * 100 + 1 }, { key: o.key, headers: { origin: "orders" } });
    // Published, then refused: the transaction rolls back, so nothing may ever be sent for it.
    if (o.fail === "permanent") throw ctx.permanent(\`order \${o.n} cannot be invoiced\`);
  },
});
`;

// No business key here: a second, different event id for the same order would show as a second invoice.
const recordInvoice = (invoices: string, table: string) => `import { defineHandler } from "ferry";

interface InvoiceRequested { orderKey: string; amountCents: number }

export default defineHandler<InvoiceRequested>({
  topic: ${JSON.stringify(invoices)},
  async handle(inv, ctx) {
    await ctx.sql\`insert into ${table} (event_id, order_key, amount_cents) values (\${ctx.event.id}, \${inv.orderKey}, \${inv.amountCents})\`;
  },
});
`;

// Where each service may die, and how many hits of the point to let pass first.
const upstreamPoints: Array<[string, number]> = [
  ["handler", 300],
  ["outbox-committed", 20],
  ["outbox-sent", 6],
  ["db-committed", 10],
];
const downstreamPoints: Array<[string, number]> = [
  ["handler", 300],
  ["db-committed", 10],
];

const kills = long ? 24 : 6;

test(`a chain of two handlers, each worker SIGKILLed ${kills} times: one invoice per order, one event id per emitted event`, async () => {
  const random = seededRandom(seed);
  const id = randomUUID().slice(0, 8);
  const orders = await kafka.createTopic("chain-orders", 4);
  const invoices = await kafka.createTopic("chain-invoice-requested", 4);
  const table = `chain_invoices_${id}`;
  const upstreamDir = writeHandlersDir({ "request-invoice.ts": requestInvoice(orders, invoices) });
  const downstreamDir = writeHandlersDir(
    { "record-invoice.ts": recordInvoice(invoices, table) },
    { [`0001_${table}.sql`]: `create table ${table} (id bigserial primary key, event_id text not null, order_key text not null, amount_cents int not null);` },
  );
  const prefix = `chain-${id}`;
  const workers: FerryProcess[] = [];
  const start = (dir: string, extra: Record<string, string>) => {
    const w = startFerry(["run", "--handlers", dir, "--group-prefix", prefix], {
      FERRY_BATCH_SIZE: "100",
      // Static members: a restarted worker takes its partitions back at once, not after the killed one's session.
      FERRY_KAFKA_GROUP_INSTANCE_ID: `${dir === upstreamDir ? "up" : "down"}-${id}`,
      // A relay in another process (the other service) picks up rows it was not woken for this fast.
      FERRY_OUTBOX_POLL_MS: "200",
      ...extra,
    });
    workers.push(w);
    return w;
  };
  const producer = await kafka.ackProducer();
  let killed = { upstream: 0, downstream: 0 };
  try {
    let count = 0;
    let chunks = 0;
    // More orders whenever the chain catches up before the last kill: the faults need work to hit.
    const produce = async (n: number) => {
      await producer.send(
        faultWorkload(orders, n, { seed: seed + chunks, prefix: `${orders}-c${chunks++}`, technicalRate: 0.08, functionalRate: 0.05, permanentRate: 0.03 }),
      );
      count += n;
    };
    await produce(long ? 6_000 : 1_500);

    const lives = { upstream: 0, downstream: 0 };
    const life = (side: "upstream" | "downstream"): FerryProcess => {
      const dir = side === "upstream" ? upstreamDir : downstreamDir;
      if (killed[side] >= kills) return start(dir, {});
      if (random() < 0.25) {
        const worker = start(dir, {});
        setTimeout(
          () => {
            if (worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill("SIGKILL");
          },
          1_000 + random() * 2_500,
        );
        return worker;
      }
      const points = side === "upstream" ? upstreamPoints : downstreamPoints;
      const [point, maxHit] = points[lives[side]++ % points.length]!;
      const worker = start(dir, { FERRY_FAULT_INJECT: `${point}@${1 + Math.floor(random() * maxHit)}` });
      // A point this life never reaches (its hits went to the other service's relay): killed from outside.
      setTimeout(() => {
        if (worker.proc.exitCode === null && worker.proc.signalCode === null) worker.proc.kill("SIGKILL");
      }, 12_000);
      return worker;
    };
    const running = { upstream: life("upstream"), downstream: life("downstream") };
    const started = Date.now();
    const caughtUp = async (groupId: string, topic: string) => {
      const ends = await kafka.ends(topic);
      const rows = await sql<{ partition: number; next_offset: string }[]>`
        select partition, next_offset from ferry_offsets where group_id = ${groupId} and topic = ${topic}`;
      const next = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
      return [...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end);
    };
    await waitFor(
      "both services caught up, the outbox empty, the kills done",
      async () => {
        for (const side of ["upstream", "downstream"] as const) {
          const w = running[side];
          if (w.proc.exitCode === null && w.proc.signalCode === null) continue;
          if (w.proc.signalCode !== "SIGKILL") throw new Error(`the ${side} worker exited by itself (code ${w.proc.exitCode}):\n${w.output().slice(-2_000)}`);
          killed = { ...killed, [side]: killed[side] + 1 };
          running[side] = life(side);
        }
        // In causal order: every order applied (its outbox rows committed with it), then every row
        // sent, then every sent record applied. Read the other way round, an order applied between
        // the outbox read and the offsets read left its invoice unsent and the check early.
        const unsent = async () =>
          (
            await sql<
              { n: number }[]
            >`select count(*)::int as n from ferry_outbox where handler = 'request-invoice' and topic = ${invoices} and sent_at is null`
          )[0]!.n;
        const done = (await caughtUp(`${prefix}.request-invoice`, orders)) && (await unsent()) === 0 && (await caughtUp(`${prefix}.record-invoice`, invoices));
        if (!done) return false;
        if (killed.upstream >= kills && killed.downstream >= kills) return true;
        await produce(300);
        return false;
      },
      { timeoutMs: long ? 600_000 : 150_000, intervalMs: 200 },
    );
    const elapsedMs = Date.now() - started;

    // What must have happened, from what the producer saw acknowledged: an order key is invoiced
    // once when any acknowledged record of it was meant to apply, never otherwise.
    const mustInvoice = new Set<string>();
    const allKeys = new Set<string>();
    for (const p of producer.produced) {
      if (!p.ack) continue;
      if (p.intent.kind === "apply") mustInvoice.add(p.intent.businessKey!);
    }
    const invoiceRows = await sql<{ order_key: string; n: number }[]>`select order_key, count(*)::int as n from ${sql(table)} group by order_key`;
    const invoicedTwice = invoiceRows.filter((r) => r.n > 1).map((r) => r.order_key);
    const unexpected = invoiceRows.filter((r) => !mustInvoice.has(r.order_key)).map((r) => r.order_key);
    const invoiced = new Set(invoiceRows.map((r) => r.order_key));
    const missing = [...mustInvoice].filter((k) => !invoiced.has(k));

    // The intermediate topic: copies of one event id are the same bytes; one event id per order.
    const records = await kafka.readAll(invoices);
    const byEventId = new Map<string, ReadRecord[]>();
    for (const r of records) {
      const eventId = r.headers["event-id"]?.toString() ?? "(none)";
      byEventId.set(eventId, [...(byEventId.get(eventId) ?? []), r]);
    }
    const differing = [...byEventId].filter(([, copies]) => new Set(copies.map(fingerprint)).size > 1).map(([eventId]) => eventId);
    const idsPerOrder = new Map<string, Set<string>>();
    for (const [eventId, copies] of byEventId) {
      const orderKey = JSON.parse(copies[0]!.value!.toString()).orderKey as string;
      allKeys.add(orderKey);
      idsPerOrder.set(orderKey, (idsPerOrder.get(orderKey) ?? new Set()).add(eventId));
    }
    const ordersWithSeveralIds = [...idsPerOrder].filter(([, ids]) => ids.size > 1).map(([k]) => k);
    const emittedForDeadLettered = [...allKeys].filter((k) => !mustInvoice.has(k));
    const fired: Record<string, number> = {};
    for (const w of workers) for (const l of w.logs) if (l.msg === "fault:injected") fired[String(l.point)] = (fired[String(l.point)] ?? 0) + 1;

    reportCounts("chain", {
      orders: count,
      records: producer.produced.length,
      produce: produceSummary(producer.produced),
      kills: killed,
      fired,
      workers: workers.length,
      elapsedMs,
      ordersToInvoice: mustInvoice.size,
      invoiced: invoiced.size,
      intermediateRecords: records.length,
      intermediateEventIds: byEventId.size,
      resent: records.length - byEventId.size,
    });
    expect(producer.produced.filter((p) => !p.ack)).toEqual([]);
    expect({ invoicedTwice, unexpected, missing }).toEqual({ invoicedTwice: [], unexpected: [], missing: [] });
    expect({ differing, ordersWithSeveralIds, emittedForDeadLettered }).toEqual({ differing: [], ordersWithSeveralIds: [], emittedForDeadLettered: [] });
    expect(byEventId.size).toBe(mustInvoice.size);
    expect(killed.upstream).toBeGreaterThanOrEqual(kills);
    expect(killed.downstream).toBeGreaterThanOrEqual(kills);
  } finally {
    await producer.close();
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    keepLog(`chain-${id}`, workers.map((w, i) => `=== worker ${i}\n${w.output()}`).join("\n"));
    await sql`delete from ferry_outbox where topic = ${invoices}`.catch(() => undefined);
    await sql.unsafe(`drop table if exists ${table}`).catch(() => undefined);
  }
});
