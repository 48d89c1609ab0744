/**
 * ctx.publish against the real PostgreSQL: rows are written in the handler's transaction (a
 * failed call leaves none), ids are derived, not drawn, and what one insert stores reads back byte
 * for byte. The relay that sends them is tested in relay.test.ts.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { insertOutboxRows, readRows, storedHeaderOrder } from "../db/sql/outbox.ts";
import { PublishError } from "../errors.ts";
import type { BatchContext, EventMeta } from "../handlers/contract.ts";
import { type LoadedHandler, validateHandlerModule } from "../handlers/validate.ts";
import { useOutboxTests } from "../../tests/support/outbox.ts";
import { outboxEventId } from "./event-id.ts";

const outbox = useOutboxTests();
const { sql, run, handlerOf, apply } = outbox;
let target: string;
beforeAll(() => {
  ({ target } = outbox.services());
});

const rowsOf = (handler: LoadedHandler) =>
  sql<Array<{ event_id: string; source_event_id: string; topic: string; key: string | null; value: Buffer }>>`
    select event_id, source_event_id, topic, convert_from(key, 'utf8') as key, value from ferry_outbox where handler = ${handler.name} order by id`;

describe("ctx.publish", () => {
  test("writes the published events in the handler's transaction, with ids derived from (group, source event, position)", async () => {
    const handler = handlerOf("invoicing", async (v, ctx) => {
      await ctx.publish(target, { invoiceFor: v.n }, { key: `k${v.n % 2}` });
      void ctx.publish(target, { reminderFor: v.n }, { key: `k${v.n % 2}`, headers: { kind: "reminder" } }); // not awaited: Ferry waits
    });
    let woken = 0;
    const result = await apply(
      handler,
      [
        { id: `a-${run}`, n: 1 },
        { id: `b-${run}`, n: 2 },
      ],
      () => woken++,
    );
    expect(result.ok).toBe(true);
    expect(woken).toBe(1);
    const rows = await rowsOf(handler);
    expect(rows.map((r) => [r.source_event_id, r.key, JSON.parse(r.value.toString())])).toEqual([
      [`a-${run}`, "k1", { invoiceFor: 1 }],
      [`a-${run}`, "k1", { reminderFor: 1 }],
      [`b-${run}`, "k0", { invoiceFor: 2 }],
      [`b-${run}`, "k0", { reminderFor: 2 }],
    ]);
    const groupId = `g.${handler.name}`;
    expect(rows.map((r) => r.event_id)).toEqual([
      outboxEventId({ groupId, sourceEventId: `a-${run}`, position: 0 }),
      outboxEventId({ groupId, sourceEventId: `a-${run}`, position: 1 }),
      outboxEventId({ groupId, sourceEventId: `b-${run}`, position: 0 }),
      outboxEventId({ groupId, sourceEventId: `b-${run}`, position: 1 }),
    ]);
  });

  test("handling the same event again after its inbox row is gone (pruned, a restored database) publishes the same ids: nothing new", async () => {
    const handler = handlerOf("replayed", async (v, ctx) => {
      await ctx.publish(target, { invoiceFor: v.n }, { key: `k${v.n}` });
      await ctx.publish(target, { reminderFor: v.n }, { key: `k${v.n}` });
    });
    expect((await apply(handler, [{ id: `p-${run}`, n: 7 }])).ok).toBe(true);
    const first = (await rowsOf(handler)).map((r) => r.event_id);
    await sql`delete from ferry_inbox where handler = ${handler.name}`;
    const again = await apply(handler, [{ id: `p-${run}`, n: 7 }]);
    expect(again.ok && again.results[0]!.kind).toBe("applied");
    expect((await rowsOf(handler)).map((r) => r.event_id)).toEqual(first);
    expect(first).toHaveLength(2);
  });

  test("handleBatch publishes per item, each id derived from the item's event; without it the call is refused", async () => {
    const batchHandler = (name: string, withEvent: boolean) => {
      const result = validateHandlerModule(`${name}-${run}`, `/h/${name}.ts`, {
        default: {
          topic: "orders",
          publishes: [{ topic: target }],
          async handleBatch(items: Array<{ value: { n: number }; event: EventMeta }>, ctx: BatchContext) {
            for (const i of items) await ctx.publish(target, { n: i.value.n }, withEvent ? { event: i.event } : {});
          },
        },
      });
      if ("problems" in result) throw new Error(result.problems.join("\n"));
      return result.handler;
    };
    const good = batchHandler("batched", true);
    expect(
      (
        await apply(good, [
          { id: `x-${run}`, n: 1 },
          { id: `y-${run}`, n: 2 },
        ])
      ).ok,
    ).toBe(true);
    expect((await rowsOf(good)).map((r) => r.event_id)).toEqual([
      outboxEventId({ groupId: `g.${good.name}`, sourceEventId: `x-${run}`, position: 0 }),
      outboxEventId({ groupId: `g.${good.name}`, sourceEventId: `y-${run}`, position: 0 }),
    ]);
    const refused = await apply(batchHandler("batched-bare", false), [{ id: `z-${run}`, n: 3 }]);
    expect(!refused.ok && refused.failure.error.message).toContain("pass the item's event, ctx.publish(topic, value, { event: item.event })");
  });

  test("a fan-out larger than a chunk is written in several statements, in the order published, all in the call's transaction", async () => {
    // 20 events of 900 KB (over WRITE_CHUNK's 16 MiB), then 12,000 small ones (over its 10,000 rows).
    const big = "x".repeat(900_000);
    const handler = handlerOf("fan-out", async (v, ctx) => {
      for (let i = 0; i < 20; i++) await ctx.publish(`${target}-text`, big, { key: `big-${i}` });
      for (let i = 0; i < 12_000; i++) void ctx.publish(`${target}-text`, `small-${i}`);
      if (v.fail) throw new Error("fails after publishing");
    });
    expect((await apply(handler, [{ id: `fan-fail-${run}`, n: 1, fail: true }])).ok).toBe(false);
    expect((await rowsOf(handler)).length).toBe(0);
    expect((await apply(handler, [{ id: `fan-${run}`, n: 1 }])).ok).toBe(true);
    const rows = await sql<{ event_id: string; bytes: number }[]>`
      select event_id, octet_length(value) as bytes from ferry_outbox where handler = ${handler.name} order by id`;
    expect(rows.length).toBe(12_020);
    const groupId = `g.${handler.name}`;
    expect(rows.map((r) => r.event_id)).toEqual(rows.map((_, position) => outboxEventId({ groupId, sourceEventId: `fan-${run}`, position })));
    expect(rows.slice(0, 20).every((r) => r.bytes === 900_000)).toBe(true);
    // Not for the relay tests (relay.test.ts) to send.
    await sql`delete from ferry_outbox where handler = ${handler.name}`;
  });

  test("a failed call publishes nothing: its rows roll back with its effects", async () => {
    const handler = handlerOf("failing", async (v, ctx) => {
      await ctx.publish(target, { n: v.n });
      if (v.fail) throw new Error("the handler fails after publishing");
    });
    const result = await apply(handler, [{ id: `f-${run}`, n: 1, fail: true }]);
    expect(result.ok).toBe(false);
    expect((await rowsOf(handler)).length).toBe(0);
  });

  test("refuses a topic the handler did not declare, and a value its declared format cannot write, at the call", async () => {
    const seen: unknown[] = [];
    const handler = handlerOf("undeclared", async (v, ctx) => {
      for (const attempt of [() => ctx.publish("somewhere-else", { n: v.n }), () => ctx.publish(`${target}-text`, { not: "a string" })]) {
        try {
          await attempt();
        } catch (e) {
          seen.push(e);
        }
      }
    });
    const result = await apply(handler, [{ id: `u-${run}`, n: 1 }]);
    expect(result.ok).toBe(true);
    expect(seen[0]).toBeInstanceOf(PublishError);
    expect((seen[0] as PublishError).code).toBe("undeclared-topic");
    expect((seen[0] as Error).message).toContain('which it does not declare: add { topic: "somewhere-else" } to its `publishes`');
    expect((seen[1] as Error).message).toContain('declared format "string"');
    expect((await rowsOf(handler)).length).toBe(0);
  });
});

test("what one insert stores reads back byte for byte: null, empty and binary keys and values apart, headers in jsonb's own order", async () => {
  class Rollback extends Error {}
  const headers: Array<Record<string, string>> = [
    { ü: "1", u: "2", uu: "3", é: "4", b: "5", a: "6" },
    { "event-id": "x" },
    {},
    { 日本: "j", zzz: "z", "🚢": "s" },
  ];
  const rows = [
    { key: null, value: null },
    { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { key: Buffer.from([0, 255, 0]), value: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
    { key: Buffer.from("k"), value: Buffer.alloc(900_000, 7) },
  ].map((r, i) => ({ ...r, eventId: `stored-${i}-${run}`, handler: `stored-${run}`, sourceEventId: "s", topic: "never-sent", headers: headers[i]! }));
  const [written, read, keyOrders] = await sql
    .begin(async (tx) => {
      const w = await insertOutboxRows(tx, rows);
      const r = await readRows(
        tx,
        w.map((x) => x.id),
      );
      // The order PostgreSQL itself gives each jsonb's keys.
      const orders = await Promise.all(
        headers.map(async (h) => (await tx<{ k: string }[]>`select jsonb_object_keys(${JSON.stringify(h)}::text::jsonb) as k`).map((x) => x.k)),
      );
      throw new Rollback(
        JSON.stringify([w, r.map((x) => [x.event_id, x.key?.toString("base64") ?? null, x.value?.toString("base64") ?? null, x.headers]), orders]),
      );
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
      return JSON.parse(e.message) as [Array<{ event_id: string }>, Array<[string, string | null, string | null, Record<string, string>]>, string[][]];
    });
  expect(written.map((w) => w.event_id)).toEqual(rows.map((r) => r.eventId));
  expect(read).toEqual(rows.map((r) => [r.eventId, r.key?.toString("base64") ?? null, r.value?.toString("base64") ?? null, r.headers]));
  expect(read.map((r) => Object.keys(r[3]))).toEqual(keyOrders);
  expect(headers.map((h) => Object.keys(storedHeaderOrder(h)))).toEqual(keyOrders);
});
