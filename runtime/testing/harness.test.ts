// ferry/testing on a handler like the engine tests' own: every outcome the engine settles, through
// its code, on PGlite in this process and on the real PostgreSQL server of the test run.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../../tests/support/handlers.ts";
import { createHarness, type TestHarness } from "./harness.ts";

const dir = writeHandlersDir(
  {
    "effects.ts": effectsHandler({ topic: "payments", table: "effects", businessKey: true }),
    // Deployed before its migration: every event fails alike, none by its own doing.
    "undeployed.ts": effectsHandler({ topic: "refunds", table: "no_such_table", retry: "{ attempts: 2, backoffMs: 1000 }" }),
    // Retries through retry topics: a failed attempt moves on, the event waits in its retry topic.
    "retrying.ts": effectsHandler({ topic: "shipments", table: "effects", retry: '{ mode: "topics", delays: ["1s", "2s"] }' }),
    // Publishes a receipt per order, then fails for the ones marked: their receipts must not exist.
    "receipts.ts": `import { defineHandler } from "ferry";
export default defineHandler<{ orderId: string; cents: number; fail?: boolean }>({
  topic: "orders",
  publishes: [{ topic: "receipts" }, { topic: "audit", format: "string" }],
  retry: { attempts: 1 },
  async handle(order, ctx) {
    await ctx.publish("receipts", { orderId: order.orderId, cents: order.cents }, { key: order.orderId });
    await ctx.publish("audit", \`receipt for \${order.orderId}\`);
    if (order.fail) throw ctx.permanent(\`order \${order.orderId} is refused\`);
  },
});
`,
  },
  { "0001_effects.sql": effectsTableMigration("effects") },
);
const databases = [["pglite"], ...(process.env.FERRY_TEST_DATABASE_URL ? [[process.env.FERRY_TEST_DATABASE_URL]] : [])];

describe.each(databases)("on %s", (database) => {
  let h: TestHarness;
  beforeAll(async () => {
    h = await createHarness(path.join(dir, "effects.ts"), { database });
  }, 120_000);
  afterAll(() => h?.close());
  const rows = async (key: string) => [...(await h.sql`select event_id, n, attempt from effects where biz_key = ${key} order by id`)];

  test("applies a new event once, with the handler directory's migration applied", async () => {
    const [r] = await h.send({ eventId: "new-1", key: "k", value: { n: 1, key: "new", seq: 1 } });
    expect(r).toEqual({ eventId: "new-1", topic: "payments", partition: 0, offset: expect.any(String), outcome: "applied", attempts: 1 });
    expect(await rows("new")).toEqual([{ event_id: "new-1", n: 1, attempt: 1 }]);
  });

  test("skips a redelivered event id as a technical duplicate: the handler does not run again", async () => {
    const event = { eventId: "again-1", value: { n: 2, key: "again", seq: 1 } };
    const outcomes = await h.send([event, event]);
    expect(outcomes.map((o) => o.outcome)).toEqual(["applied", "technical-duplicate"]);
    expect(await rows("again")).toHaveLength(1);
  });

  test("dead-letters a functional duplicate with the event id that holds its business key", async () => {
    const [first, second] = await h.send([
      { eventId: "biz-1", value: { n: 3, key: "biz", seq: 1 } },
      { eventId: "biz-2", value: { n: 4, key: "biz", seq: 2 } },
    ]);
    expect(first?.outcome).toBe("applied");
    expect(second).toMatchObject({ outcome: "dead-lettered", reason: "functional-duplicate" });
    if (second?.outcome !== "dead-lettered") throw new Error("expected a dead letter");
    expect(second.headers).toMatchObject({ "ferry-held-by-event-id": "biz-1", "ferry-business-key": "biz", "ferry-handler": "effects", "event-id": "biz-2" });
    expect(await rows("biz")).toEqual([{ event_id: "biz-1", n: 3, attempt: 1 }]);
  });

  test("dead-letters a poison value and a missing event id without calling the handler", async () => {
    const outcomes = await h.send([
      { eventId: "poison-1", value: Buffer.from("{not json") },
      { eventId: null, value: { n: 5, key: "no-id", seq: 1 } },
    ]);
    expect(outcomes.map((o) => (o.outcome === "dead-lettered" ? o.reason : o.outcome))).toEqual(["decode-failed", "missing-event-id"]);
    expect(outcomes[0]).toMatchObject({ headers: { "ferry-error-code": "invalid-json" } });
    expect(await rows("no-id")).toEqual([]);
  });

  test("dead-letters a permanent error at once, and an always-failing event after its attempts", async () => {
    const outcomes = await h.send([
      { eventId: "perm-1", value: { n: 6, key: "perm", seq: 1, fail: "permanent" } },
      { eventId: "always-1", value: { n: 7, key: "always", seq: 1, fail: "always" } },
      { eventId: "after-1", value: { n: 8, key: "after", seq: 1 } },
    ]);
    expect(outcomes[0]).toMatchObject({
      outcome: "dead-lettered",
      reason: "permanent",
      attempts: 1,
      headers: { "ferry-error-message": "event 6 can never apply" },
    });
    expect(outcomes[1]).toMatchObject({
      outcome: "dead-lettered",
      reason: "exhausted",
      attempts: 3,
      headers: { "ferry-error-class": "TypeError", "ferry-attempts": "3" },
    });
    // One bad event never holds up or undoes its neighbours.
    expect(outcomes[2]).toMatchObject({ outcome: "applied" });
    expect(await rows("perm")).toEqual([]);
  });

  test("retries a transient failure on the fake clock: applied on the third attempt, no real waiting", async () => {
    const before = h.waits.length;
    const started = performance.now();
    const [r] = await h.send({ eventId: "transient-1", value: { n: 9, key: "transient", seq: 1, fail: "transient" } });
    expect(r).toMatchObject({ outcome: "applied", attempts: 3 });
    expect(h.waits.slice(before).map((w) => w.why)).toEqual(["retry", "retry"]);
    expect(await rows("transient")).toEqual([{ event_id: "transient-1", n: 9, attempt: 3 }]);
    // The backoffs (20 ms and more, doubling) were not slept: only the engine's own work took time.
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

test("retry topics: a failed attempt goes to the retry topic with its envelope and the partition moves on; permanent ones dead-letter at once", async () => {
  const h = await createHarness(path.join(dir, "retrying.ts"), { database: "pglite" });
  try {
    const before = Date.now();
    const outcomes = await h.send([
      { eventId: "ship-1", key: "k", value: { n: 1, key: "s1", seq: 1, fail: "transient" } },
      { eventId: "ship-2", key: "k", value: { n: 2, key: "s2", seq: 2 } },
      { eventId: "ship-3", key: "k", value: { n: 3, key: "s3", seq: 3, fail: "permanent" } },
    ]);
    expect(outcomes.map((o) => (o.outcome === "dead-lettered" ? o.reason : o.outcome))).toEqual(["sent-to-retry", "applied", "permanent"]);
    expect(outcomes[0]).toMatchObject({ retryTopic: "shipments.retrying.retry.1", attempt: 2, delayMs: 1_000 });
    // No waiting in place: the partition went on at once.
    expect(h.waits).toEqual([]);
    expect(h.retried).toHaveLength(1);
    const headers = Object.fromEntries(Object.entries(h.retried[0]!.headers ?? {}).map(([k, v]) => [k, v.toString()]));
    expect(headers).toMatchObject({
      "event-id": "ship-1",
      "ferry-retry-attempt": "2",
      "ferry-retry-source-topic": "shipments",
      "ferry-retry-source-offset": outcomes[0]!.offset,
      "ferry-retry-error-class": "Error",
      "ferry-retry-error-message": "event 1 fails on attempt 1",
    });
    expect(Number(headers["ferry-retry-due-at"])).toBeGreaterThanOrEqual(before + 1_000);
    expect(h.deadLetters.map((l) => l.headers?.["ferry-reason"]?.toString())).toEqual(["permanent"]);
  } finally {
    await h.close();
  }
}, 120_000);

test("reports a failure every event shares as waiting, never dead-lettered: ferry run would wait at that offset", async () => {
  const h = await createHarness(path.join(dir, "undeployed.ts"), { maxWaits: 2 });
  try {
    const outcomes = await h.send([1, 2, 3].map((n) => ({ eventId: `undeployed-${n}`, value: { n, key: `u-${n}`, seq: n } })));
    expect(outcomes.map((o) => o.outcome)).toEqual(["waiting", "waiting", "waiting"]);
    expect(outcomes[0]).toMatchObject({ failure: { source: "handler", errorClass: "DatabaseError", errorCode: "42P01" } });
    expect(h.deadLetters).toEqual([]);
    // Its attempts' backoffs and the partition's waits went by on the fake clock.
    expect(h.waits.map((w) => w.why)).toEqual(["retry", "waiting", "waiting"]);
  } finally {
    await h.close();
  }
}, 120_000);

test("ctx.publish: the events a handler published, decoded, with the ids ferry run derives; a failed call publishes nothing", async () => {
  const h = await createHarness(path.join(dir, "receipts.ts"), { database: "pglite" });
  try {
    const outcomes = await h.send([
      { eventId: "order-1", value: { orderId: "o-1", cents: 250 } },
      { eventId: "order-2", value: { orderId: "o-2", cents: 10, fail: true } },
      { eventId: "order-1", value: { orderId: "o-1", cents: 250 } },
    ]);
    expect(outcomes.map((o) => (o.outcome === "dead-lettered" ? o.reason : o.outcome))).toEqual(["applied", "permanent", "technical-duplicate"]);
    const published = await h.published();
    expect(published.map((p) => ({ topic: p.topic, key: p.key, value: p.value, source: p.sourceEventId }))).toEqual([
      { topic: "receipts", key: "o-1", value: { orderId: "o-1", cents: 250 }, source: "order-1" },
      { topic: "audit", key: null, value: "receipt for o-1", source: "order-1" },
    ]);
    // Version 5 UUIDs, distinct per publish, carried in the event-id header downstream handlers deduplicate on.
    expect(new Set(published.map((p) => p.eventId)).size).toBe(2);
    for (const p of published) {
      expect(p.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(p.headers["event-id"]).toBe(p.eventId);
    }
  } finally {
    await h.close();
  }
}, 120_000);
