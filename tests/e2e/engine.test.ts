/**
 * The engine's outcomes for single events, through the compiled binary on the real cluster:
 * functional duplicates, event-id policies, retries, permanent and decode failures.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";
import { useScenarios } from "../support/suite.ts";
import { header } from "../support/scenario.ts";

const suite = useScenarios();
const { sql, scenario } = suite;

const event = (topic: string, id: string | null, payload: Record<string, unknown>, extra: Partial<OutgoingRecord> = {}): OutgoingRecord => ({
  topic,
  key: "k1",
  value: JSON.stringify({ n: 0, key: `biz-${id}`, seq: 1, ...payload }),
  headers: id === null ? {} : { "event-id": id },
  ...extra,
});

describe("functional duplicates", () => {
  test("dead-letters a second event for a business key with headers naming the holder, applying the key once", async () => {
    const s = await scenario("functional", { businessKey: true });
    const [a, b, order1] = [`${s.topic}-a`, `${s.topic}-b`, `${s.topic}-order-1`];
    await suite
      .kafka()
      .send([
        event(s.topic, a, { n: 1, key: order1 }),
        event(s.topic, b, { n: 2, key: order1 }),
        event(s.topic, `${s.topic}-c`, { n: 3, key: `${s.topic}-order-2` }),
      ]);
    s.start();
    await s.waitForCommitted(3);
    const effects = await s.effects();
    expect(effects.map((e) => e.event_id)).toEqual([a, `${s.topic}-c`]);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-reason")).toBe("functional-duplicate");
    expect(header(letter!, "ferry-handler")).toBe("record-effect");
    expect(header(letter!, "ferry-event-id")).toBe(b);
    expect(header(letter!, "ferry-held-by-event-id")).toBe(a);
    expect(header(letter!, "ferry-business-key")).toBe(order1);
    expect(header(letter!, "ferry-source-topic")).toBe(s.topic);
    expect(header(letter!, "ferry-source-partition")).toBeDefined();
    expect(header(letter!, "ferry-source-offset")).toBe("1");
    expect(header(letter!, "event-id")).toBe(b); // the original headers travel along
    expect(JSON.parse(letter!.value!.toString())).toMatchObject({ n: 2, key: order1 });
  });

  test("a second event whose key holder in the same batch fails for good is applied, not dead-lettered", async () => {
    const s = await scenario("holder-fails", { businessKey: true, partitions: 1 });
    const key = `${s.topic}-order`;
    const [holder, second] = [`${s.topic}-holder`, `${s.topic}-second`];
    await suite.kafka().send([event(s.topic, holder, { n: 1, key, fail: "permanent" }), event(s.topic, second, { n: 2, key })]);
    s.start();
    await s.waitForCommitted(2);
    expect((await s.effects()).map((e) => e.event_id)).toEqual([second]);
    const letters = await s.readDeadLetters(1);
    expect(letters.map((l) => [header(l, "ferry-event-id"), header(l, "ferry-reason")])).toEqual([[holder, "permanent"]]);
  });

  test("a duplicate of a committed event is dead-lettered once while a failing neighbour is retried", async () => {
    const s = await scenario("letter-once", { businessKey: true, partitions: 1 });
    const key = `${s.topic}-order`;
    const [first, flaky, duplicate] = [`${s.topic}-first`, `${s.topic}-flaky`, `${s.topic}-duplicate`];
    await suite.kafka().send([event(s.topic, first, { n: 1, key })]);
    s.start();
    await s.waitForCommitted(1);
    // One batch: the handler fails twice on the event before the duplicate, so the batch is
    // retried; the duplicate's letter is produced once, by the attempt that commits.
    await suite.kafka().send([event(s.topic, flaky, { n: 2, key: `${s.topic}-other`, fail: "transient" }), event(s.topic, duplicate, { n: 3, key })]);
    await s.waitForCommitted(3);
    expect((await s.effects()).map((e) => [e.event_id, e.attempt])).toEqual([
      [first, 1],
      [flaky, 3],
    ]);
    const letters = await s.readDeadLetters(1);
    expect(letters.map((l) => [header(l, "ferry-event-id"), header(l, "ferry-reason"), header(l, "ferry-held-by-event-id")])).toEqual([
      [duplicate, "functional-duplicate", first],
    ]);
  });
});

describe("event id policy", () => {
  test("dead-letters events with a missing or malformed event-id header by default", async () => {
    const s = await scenario("no-event-id");
    await suite.kafka().send([event(s.topic, null, { n: 1 }), event(s.topic, "has a space", { n: 2 }), event(s.topic, `${s.topic}-ok`, { n: 3 })]);
    s.start();
    await s.waitForCommitted(3);
    expect((await s.effects()).map((e) => e.n)).toEqual([3]);
    const letters = await s.readDeadLetters(2);
    expect(letters.map((l) => header(l, "ferry-reason")).sort()).toEqual(["malformed-event-id", "missing-event-id"]);
  });

  test("with FERRY_MISSING_EVENT_ID=derive, identifies such events by topic/partition/offset", async () => {
    const s = await scenario("derive-event-id", { extraEnv: { FERRY_MISSING_EVENT_ID: "derive" } });
    await suite.kafka().send([event(s.topic, null, { n: 1 }, { partition: 0 })]);
    s.start();
    await s.waitForCommitted(1);
    expect((await s.effects()).map((e) => e.event_id)).toEqual([`${s.topic}/0/0`]);
  });
});

describe("failures", () => {
  test("retries a transiently failing handler and applies the event once", async () => {
    const s = await scenario("transient");
    await suite.kafka().send([event(s.topic, `${s.topic}-t`, { n: 1, fail: "transient" })]);
    s.start();
    await s.waitForCommitted(1);
    const effects = await s.effects();
    expect(effects).toHaveLength(1);
    expect(effects[0]!.attempt).toBe(3);
  });

  test("dead-letters an always-failing event after its attempts while its partition moves on", async () => {
    const s = await scenario("exhausted", { partitions: 1 });
    const ids = [0, 1, 2, 3].map((i) => `${s.topic}-${i}`);
    await suite
      .kafka()
      .send([
        event(s.topic, ids[0]!, { n: 0 }),
        event(s.topic, ids[1]!, { n: 1, fail: "always" }),
        event(s.topic, ids[2]!, { n: 2 }),
        event(s.topic, ids[3]!, { n: 3 }),
      ]);
    s.start();
    await s.waitForCommitted(4);
    expect((await s.effects()).map((e) => e.n)).toEqual([0, 2, 3]);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-reason")).toBe("exhausted");
    expect(header(letter!, "ferry-attempts")).toBe("3");
    expect(header(letter!, "ferry-error-class")).toBe("TypeError");
    expect(header(letter!, "ferry-error-message")).toBe("event 1 always fails");
    expect(header(letter!, "ferry-event-id")).toBe(ids[1]);
    expect(Date.parse(header(letter!, "ferry-failed-at")!)).toBeGreaterThanOrEqual(Date.parse(header(letter!, "ferry-first-attempt-at")!));
    const [inbox] = await sql<{ outcome: string }[]>`select outcome from ferry_inbox where handler = 'record-effect' and event_id = ${ids[1]!}`;
    expect(inbox!.outcome).toBe("dead-lettered");
  });

  test.each([
    ["a permanent error", { fail: "permanent" }, "permanent", "1", "PermanentError", "event 1 can never apply"],
    ["a thrown non-Error value", { fail: "throw-string" }, "exhausted", "3", "FerryError", "non-Error value thrown: a plain string"],
  ])("dead-letters %s", async (_label, payload, reason, attempts, errorClass, message) => {
    const s = await scenario("failure");
    await suite.kafka().send([event(s.topic, `${s.topic}-x`, { n: 1, ...payload })]);
    s.start();
    await s.waitForCommitted(1);
    expect(await s.effects()).toHaveLength(0);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-reason")).toBe(reason);
    expect(header(letter!, "ferry-attempts")).toBe(attempts);
    expect(header(letter!, "ferry-error-class")).toBe(errorClass);
    expect(header(letter!, "ferry-error-message")).toBe(message);
  });

  test("dead-letters a value that cannot be decoded at once, with the precise reason", async () => {
    const s = await scenario("undecodable");
    await suite
      .kafka()
      .send([{ topic: s.topic, key: "k1", value: "{not json", headers: { "event-id": `${s.topic}-bad` } }, event(s.topic, `${s.topic}-good`, { n: 2 })]);
    s.start();
    await s.waitForCommitted(2);
    expect((await s.effects()).map((e) => e.n)).toEqual([2]);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-reason")).toBe("decode-failed");
    expect(header(letter!, "ferry-error-message")).toStartWith("invalid-json: the value is not valid JSON");
    expect(letter!.value!.toString()).toBe("{not json");
  });

  test("a retrying partition does not hold up the others", async () => {
    const s = await scenario("no-blocking", { partitions: 2, retry: "{ attempts: 3, backoffMs: 1500, maxBackoffMs: 3000 }" });
    await suite.kafka().send([event(s.topic, `${s.topic}-slow`, { n: 0, fail: "always" }, { partition: 0 })]);
    await suite.kafka().send(Array.from({ length: 50 }, (_, i) => event(s.topic, `${s.topic}-p1-${i}`, { n: i + 1 }, { partition: 1 })));
    s.start();
    await s.waitForCommitted(51);
    const [letter] = await s.readDeadLetters(1);
    const failedAt = Date.parse(header(letter!, "ferry-failed-at")!);
    const effects = await s.effects();
    expect(effects).toHaveLength(50);
    // Every event of partition 1 was applied while partition 0 was still retrying.
    expect(Math.max(...effects.map((e) => e.applied_at.getTime()))).toBeLessThan(failedAt);
  });
});

describe("batch handlers", () => {
  test("handleBatch applies a batch set-based; a poison event is narrowed down, retried alone and dead-lettered", async () => {
    const s = await scenario("batch-handler", { partitions: 1, batch: true });
    const N = 300;
    await suite.kafka().send(Array.from({ length: N }, (_, n) => event(s.topic, `${s.topic}-${n}`, n === 137 ? { n, fail: "always" } : { n, seq: n + 1 })));
    s.start();
    await s.waitForCommitted(N);
    const effects = await s.effects();
    expect(effects.map((e) => e.n)).toEqual(Array.from({ length: N }, (_, n) => n).filter((n) => n !== 137));
    expect(effects.every((e) => e.attempt === 1)).toBe(true);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-event-id")).toBe(`${s.topic}-137`);
    expect(header(letter!, "ferry-reason")).toBe("exhausted");
    expect(header(letter!, "ferry-attempts")).toBe("3");
    expect(header(letter!, "ferry-error-class")).toBe("RangeError");
  });
});

describe("handler time limits", () => {
  test.each([
    ["a handler that never settles", "hang", ["HandlerTimeoutError"]],
    // PostgreSQL's own statement timeout (57014, a DatabaseError once translated) may answer first under load.
    ["a statement that runs past the limit", "slow-sql", ["HandlerTimeoutError", "PostgresError", "DatabaseError"]],
  ])("%s is a failed attempt: retried, then dead-lettered, its partition moving on", async (_label, fail, classes) => {
    const s = await scenario("timeout", { partitions: 1, timeoutMs: 400 });
    await suite.kafka().send([event(s.topic, `${s.topic}-stuck`, { n: 1, fail }), event(s.topic, `${s.topic}-next`, { n: 2 })]);
    s.start();
    await s.waitForCommitted(2, 60_000);
    expect((await s.effects()).map((e) => e.n)).toEqual([2]);
    const [letter] = await s.readDeadLetters(1);
    expect(header(letter!, "ferry-reason")).toBe("exhausted");
    expect(classes).toContain(header(letter!, "ferry-error-class")!);
  });
});

describe("handlers using Drizzle", () => {
  test("a handler declares its table with ferry/pg-core and writes through ctx.db in the inbox transaction", async () => {
    const s = await scenario("drizzle");
    writeFileSync(
      path.join(s.handlersDir, "record-effect.ts"),
      `import { defineHandler } from "ferry";
import { pgTable, text, integer } from "ferry/pg-core";
const effects = pgTable(${JSON.stringify(s.table)}, {
  eventId: text("event_id").notNull(), n: integer("n").notNull(), kafkaKey: text("kafka_key"),
  bizKey: text("biz_key").notNull(), seq: integer("seq").notNull(), attempt: integer("attempt").notNull(),
});
export default defineHandler<{ n: number; key: string; seq: number }>({
  topic: ${JSON.stringify(s.topic)},
  async handle(p, ctx) {
    await ctx.db.insert(effects).values({ eventId: ctx.event.id, n: p.n, kafkaKey: ctx.event.key, bizKey: p.key, seq: p.seq, attempt: ctx.attempt });
  },
});
`,
    );
    await suite.kafka().send(Array.from({ length: 20 }, (_, n) => event(s.topic, `${s.topic}-${n}`, { n })));
    s.start();
    await s.waitForCommitted(20);
    expect(await s.count()).toEqual({ rows: 20, ids: 20 });
  });
});
