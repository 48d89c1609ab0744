/**
 * ctx.publish and the relay against the real PostgreSQL and Kafka: rows are written in the
 * handler's transaction (a failed call leaves none), ids are derived, not drawn, and the relay
 * sends them in order per key with the event id header, once the transaction committed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { createEngineEvents, type EngineEventMap } from "../engine-events.ts";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { PublishError } from "../errors.ts";
import type { BatchContext, EventMeta, HandlerContext } from "../handlers/contract.ts";
import { validateHandlerModule, type LoadedHandler } from "../handlers/validate.ts";
import { applyUnit } from "../inbox/unit-of-work.ts";
import type { ProducerPort } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { testSql } from "../../tests/support/db.ts";
import { eventMeta } from "../../tests/support/events.ts";
import { testKafka } from "../../tests/support/kafka.ts";
import { header, readRecords } from "../../tests/support/scenario.ts";
import { prepareEncoders } from "./encode.ts";
import { outboxEventId } from "./event-id.ts";
import {
  giveUpRelayTurn,
  insertOutboxRows,
  RELAY_LOCK_KEY,
  readRows,
  readUnsentSlots,
  storedHeaderOrder,
  takeRelayTurn,
  type UnsentRow,
} from "../db/sql/outbox.ts";
import { createOutboxRelay } from "./relay.ts";
import { createOutboxWriter } from "./writer.ts";

const sql = testSql();
const log = createLogger({ level: "error" });
let kafka: Awaited<ReturnType<typeof testKafka>>;
let target: string;
/** Topics of single tests, deleted with `target`. */
const topics: string[] = [];
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  await migrate(sql, await collectMigrations(undefined), log);
  kafka = await testKafka();
  target = await kafka.createTopic("outbox-target", 3, false);
});
afterAll(async () => {
  await sql`delete from ferry_outbox where handler like ${`%-${run}`}`;
  await kafka.admin.deleteTopics([target, ...topics]).catch(() => undefined);
  await kafka.close();
  await sql.end();
});

function handlerOf(name: string, handle: (value: { n: number; fail?: boolean }, ctx: HandlerContext) => Promise<void>): LoadedHandler {
  const result = validateHandlerModule(`${name}-${run}`, `/h/${name}.ts`, {
    default: { topic: "orders", publishes: [{ topic: target }, { topic: `${target}-text`, format: "string" }], handle },
  });
  if ("problems" in result) throw new Error(result.problems.join("\n"));
  return result.handler;
}

const meta = eventMeta;

async function apply(handler: LoadedHandler, events: Array<{ id: string; n: number; fail?: boolean }>, wake: (rows: readonly UnsentRow[]) => void = () => {}) {
  const encoders = new Map([[handler.name, await prepareEncoders(handler, undefined, "TopicName")]]);
  const outbox = createOutboxWriter({ eventIdHeader: "event-id", encoders, wake });
  return applyUnit(
    events.map((e) => ({ meta: meta(e.id, e.n), value: { n: e.n, ...(e.fail ? { fail: true } : {}) } })),
    null,
    { sql, handler, groupId: `g.${handler.name}`, log, attempt: 1, signal: new AbortController().signal, outbox },
  );
}

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
    // Not for the relay tests below to send.
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

describe("the outbox relay", () => {
  test.each([
    [0, "deletes them"],
    [1, "marks them sent"],
  ])("sends committed rows in order per key with their event ids, from memory as they would be read back, then (retention %d h) %s", async (retentionHours) => {
    const topic = await kafka.createTopic(`outbox-relayed-${retentionHours}`, 3, false);
    topics.push(topic);
    const result = validateHandlerModule(`relayed-${retentionHours}-${run}`, "/h/relayed.ts", {
      default: {
        topic: "orders",
        publishes: [{ topic }],
        handle: async (v: { n: number }, ctx: HandlerContext) => {
          // Headers of several lengths, not in the order jsonb keeps them: a row sent from memory must be the record read back.
          for (let i = 0; i < 3; i++) await ctx.publish(topic, { n: v.n, i }, { key: `key-${v.n % 4}`, headers: { kind: "invoice", a: "1", zz: "2" } });
        },
      },
    });
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    const handler = result.handler;
    const events = createEngineEvents();
    const sent: Array<EngineEventMap["outbox:sent"]> = [];
    events.on("outbox:sent", (e) => sent.push(e));
    const producer = await kafka.kafka.producer();
    const relay = createOutboxRelay({ sql, producer, log, events, settings: { batchSize: 7, pollIntervalMs: 60_000, turnIdleMs: 30_000, retentionHours } });
    const committed: UnsentRow[] = [];
    await relay.start();
    try {
      // Eight units, each handing its rows to the relay at its commit (the poll is a minute: only that can send).
      for (let n = 0; n < 8; n++) {
        const applied = await apply(handler, [{ id: `r${n}-${run}`, n }], (rows) => {
          committed.push(...rows);
          relay.committed(rows);
        });
        expect(applied.ok).toBe(true);
      }
      const mine = await readRecords(kafka, topic, 24, 30_000);
      expect(mine.length).toBe(24);
      const byId = new Map(committed.map((r) => [r.event_id, r]));
      expect(new Set(mine.map((r) => header(r, "event-id"))).size).toBe(24);
      for (const r of mine) {
        const row = byId.get(header(r, "event-id")!)!;
        expect(r.value).toEqual(row.value!);
        // In jsonb's order (by length, then bytes): the order a re-send read from PostgreSQL has.
        expect(Object.keys(r.headers)).toEqual(["a", "zz", "kind", "event-id"]);
      }
      // Per key, in the order published: (n, i) ascending.
      const perKey = new Map<string, Array<[number, number]>>();
      for (const r of mine) {
        const v = JSON.parse(r.value!.toString());
        perKey.set(r.key!.toString(), [...(perKey.get(r.key!.toString()) ?? []), [v.n, v.i]]);
      }
      for (const seq of perKey.values()) expect(seq).toEqual([...seq].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
      expect(await relay.backlog()).toMatchObject({ rows: 0, oldestMs: 0 });
      expect(sent.reduce((n, e) => n + e.events, 0)).toBeGreaterThanOrEqual(24);
      // Acknowledged rows are gone, or kept marked sent for the retention; either way none is left to send.
      const settledBy = Date.now() + 5_000;
      const left = async () =>
        (await sql<{ sent: boolean }[]>`select sent_at is not null as sent from ferry_outbox where handler = ${handler.name}`).map((r) => r.sent);
      while ((await left()).length !== (retentionHours > 0 ? 24 : 0) && Date.now() < settledBy) await Bun.sleep(50);
      expect(await left()).toEqual(retentionHours > 0 ? Array(24).fill(true) : []);
      // Read back, each row is the record that went out (keep mode only: deleted rows are gone).
      if (retentionHours > 0) {
        const read = await readRows(
          sql,
          committed.map((r) => r.id),
        );
        expect(read.map((r) => [r.event_id, r.key, r.value, r.headers])).toEqual(committed.map((r) => [r.event_id, r.key, r.value, r.headers]));
        expect(read.map((r) => Object.keys(r.headers))).toEqual(committed.map((r) => Object.keys(r.headers)));
      }
      // Idle, it gives the turn back (and its connection): another replica may take it.
      const takenElsewhere = async () =>
        await sql.begin(async (tx) => (await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(${RELAY_LOCK_KEY}) as locked`)[0]!.locked);
      const deadline = Date.now() + 5_000;
      while (!(await takenElsewhere()) && Date.now() < deadline) await Bun.sleep(50);
      expect(await takenElsewhere()).toBe(true);
    } finally {
      await relay.stop();
      await producer.stop();
    }
  });
});

test("a relay whose turn another replica holds waits between asks, however often it is woken", async () => {
  // Every commit anywhere NOTIFYs every relay: woken 200 times a second, a relay asking for the
  // turn again at each wake-up ran hundreds of transactions a second against the replica sending.
  const asks = { n: 0 };
  const counting = new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "reserve") {
        return () => {
          asks.n++;
          return target.reserve();
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as typeof sql;
  const producer = await kafka.kafka.producer();
  const relay = createOutboxRelay({
    sql: counting,
    producer,
    log,
    events: createEngineEvents(),
    settings: { batchSize: 100, pollIntervalMs: 60_000, turnIdleMs: 30_000, retentionHours: 0 },
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding!: () => void;
  const held = new Promise<void>((resolve) => (holding = resolve));
  const holder = sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${RELAY_LOCK_KEY})`;
    holding();
    await released;
  });
  try {
    await held;
    await relay.start();
    const before = asks.n;
    for (let i = 0; i < 200; i++) {
      relay.wake();
      await Bun.sleep(5);
    }
    // About one ask per 100 ms over the ~1 s of wake-ups; a busy loop made hundreds.
    expect(asks.n - before).toBeLessThan(30);
  } finally {
    release();
    await holder;
    await relay.stop();
    await producer.stop();
  }
});

test("a relay's turn held by a session that goes silent (a frozen replica) is lost after the idle time; given up, the connection keeps no timeout", async () => {
  const frozen = await sql.reserve();
  const other = await sql.reserve();
  try {
    expect(await takeRelayTurn(frozen, 1_000)).toBe(true);
    expect(await takeRelayTurn(other, 1_000)).toBe(false);
    // Refused, the other connection goes back to the pool as it was.
    expect((await other`show idle_session_timeout`)[0]!.idle_session_timeout).toBe("0");
    // The holder sends nothing for longer than its idle time: PostgreSQL ends its session, and the lock with it.
    await Bun.sleep(1_600);
    expect(await takeRelayTurn(other, 1_000)).toBe(true);
    await expect(frozen`select 1`).rejects.toThrow();
    await giveUpRelayTurn(other);
    expect((await other`show idle_session_timeout`)[0]!.idle_session_timeout).toBe("0");
    expect((await other`show plan_cache_mode`)[0]!.plan_cache_mode).toBe("auto");
  } finally {
    frozen.release();
    other.release();
  }
});

test("a relay whose send Kafka never answers stops keeping its turn: another relay sends the rows; the send is given up later", async () => {
  const handler = handlerOf("unanswered", async (v, ctx) => {
    await ctx.publish(target, { n: v.n }, { key: `key-${v.n}` });
  });
  for (let n = 0; n < 5; n++) expect((await apply(handler, [{ id: `u${n}-${run}`, n }])).ok).toBe(true);
  const lines: string[] = [];
  const stuckLog = createLogger({ level: "debug", sink: (line) => lines.push(line) });
  const logged = (msg: string) => lines.some((l) => JSON.parse(l).msg === msg);
  let answered = 0;
  const silent: ProducerPort = { send: () => new Promise(() => answered++), stop: async () => {} };
  const settings = { batchSize: 100, pollIntervalMs: 200, turnIdleMs: 1_000, retentionHours: 0 };
  const stuck = createOutboxRelay({
    sql,
    producer: silent,
    log: stuckLog,
    events: createEngineEvents(),
    settings,
    timing: { stallMs: 1_500, unansweredMs: 6_000 },
  });
  const producer = await kafka.kafka.producer();
  const other = createOutboxRelay({ sql, producer, log, events: createEngineEvents(), settings });
  const unsent = async () =>
    (await sql<{ n: number }[]>`select count(*)::int as n from ferry_outbox where handler = ${handler.name} and sent_at is null`)[0]!.n;
  try {
    await stuck.start();
    const started = Date.now();
    while (answered === 0 && Date.now() - started < 5_000) await Bun.sleep(20);
    expect(answered).toBeGreaterThan(0);
    await other.start();
    // Stalled after 1.5 s, its session silent for 1 s more: then the other relay takes the turn and sends.
    while ((await unsent()) > 0 && Date.now() - started < 5_500) await Bun.sleep(50);
    expect(await unsent()).toBe(0);
    expect(logged("outbox:stalled")).toBe(true);
    // At 6 s the stuck relay gives its send up and waits like any failed send, with the turn given up.
    while (!logged("outbox:waiting") && Date.now() - started < 10_000) await Bun.sleep(50);
    const waiting = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "outbox:waiting");
    expect(waiting).toMatchObject({ errorCode: "unanswered" });
  } finally {
    await stuck.stop(1_000);
    await other.stop();
    await producer.stop();
  }
});

test("the relay reads unsent rows in id order, across a power of ten (not in the text order of the ids)", async () => {
  class Rollback extends Error {}
  const ids = ["999999999999999998", "999999999999999999", "1000000000000000000"];
  const read = await sql
    .begin(async (tx) => {
      for (const id of ids) {
        await tx`insert into ferry_outbox (id, event_id, handler, source_event_id, topic, key, value, headers)
          values (${id}, ${`order-${id}-${run}`}, ${`order-${run}`}, 's', 'never-sent', null, null, '{}')`;
      }
      throw new Rollback(JSON.stringify((await readUnsentSlots(tx, 1_000_000)).map((r) => r.id)));
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
      return JSON.parse(e.message) as string[];
    });
  expect(read.slice(-3)).toEqual(ids);
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
