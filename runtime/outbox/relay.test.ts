/**
 * The outbox relay against the real PostgreSQL and Kafka: it sends committed rows in order per key
 * with the event id header, then deletes them or marks them sent; one relay holds the turn at a
 * time, a turn whose session falls silent is lost, and a relay whose send Kafka never answers lets
 * another relay send its rows.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { giveUpRelayTurn, RELAY_LOCK_KEY, readRows, readUnsentSlots, takeRelayTurn, type UnsentRow } from "../db/sql/outbox.ts";
import { createEngineEvents, type EngineEventMap } from "../engine-events.ts";
import type { HandlerContext } from "../handlers/contract.ts";
import { validateHandlerModule } from "../handlers/validate.ts";
import type { ProducerPort } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { type TestKafka, useOutboxTests } from "../../tests/support/outbox.ts";
import { header, readRecords } from "../../tests/support/scenario.ts";
import { createOutboxRelay } from "./relay.ts";

const outbox = useOutboxTests();
const { sql, log, run, topics, handlerOf, apply } = outbox;
let kafka: TestKafka;
let target: string;
beforeAll(() => {
  ({ kafka, target } = outbox.services());
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
