import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import type { Sql } from "postgres";
import { testSql } from "../../tests/support/db.ts";
import { eventMeta } from "../../tests/support/events.ts";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { DatabaseError } from "../errors.ts";
import { judge } from "../failure/policy.ts";
import { type LoadedHandler, validateHandlerModule } from "../handlers/validate.ts";
import { createLogger } from "../log/logger.ts";
import { applyUnit } from "./unit-of-work.ts";

/** A handler module as the loader validates it; a test's module that does not validate fails the test. */
function loadHandler(name: string, module: Record<string, unknown>): LoadedHandler {
  const validated = validateHandlerModule(name, "/h/x.ts", { default: module });
  if ("problems" in validated) throw new Error(validated.problems.join("\n"));
  return validated.handler;
}

const unitOptions = (sql: Sql, handler: LoadedHandler, log: ReturnType<typeof createLogger>) => ({
  sql,
  handler,
  groupId: `g.${handler.name}`,
  log,
  attempt: 1,
  signal: new AbortController().signal,
});

test("a transaction the driver never settles is abandoned at its deadline as the environment's failure", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const hung = { begin: () => new Promise(() => {}) } as unknown as Sql;
  const started = performance.now();
  const result = await applyUnit(
    [],
    { topic: "t", partition: 0, offset: "1" },
    {
      sql: hung,
      handler: { name: "h", timeoutMs: 20 } as LoadedHandler,
      groupId: "g",
      log: createLogger({ level: "warn", sink: (line) => lines.push(JSON.parse(line)) }),
      attempt: 1,
      signal: new AbortController().signal,
      graceMs: 50,
    },
  );
  expect(performance.now() - started).toBeGreaterThanOrEqual(85);
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.failure.error).toBeInstanceOf(DatabaseError);
  expect(result.failure.error).toMatchObject({ code: "UNIT_DEADLINE", category: "connection", retriable: true });
  expect(result.failure.error.message).toContain("waiting on: begin");
  expect(judge({ error: result.failure.error, source: result.failure.source })).toEqual({ fault: "environment" });
  expect(lines.find((l) => l.msg === "unit:abandoned")).toMatchObject({ step: "begin", waitedMs: 90 });
});

test("dead letters Kafka never acknowledges: the open transaction rolls back after the wait, and the unit fails as retriable", async () => {
  const sql = testSql();
  const log = createLogger({ level: "error" });
  const id = randomUUID().slice(0, 8);
  try {
    await migrate(sql, await collectMigrations(undefined), log);
    const handler = loadHandler(`dead-letter-wait-${id}`, { topic: "orders", handle: async () => {} });
    const started = performance.now();
    const result = await applyUnit([{ meta: eventMeta(`dlw-${id}`, 0), value: {} }], null, {
      ...unitOptions(sql, handler, log),
      // A dead letter whose acknowledgement never comes.
      beforeCommit: () => new Promise<void>(() => {}),
      deadLetterWaitMs: 300,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.source).toBe("dead-letter");
    expect(result.failure.error).toMatchObject({ name: "KafkaError", code: "unanswered", retriable: true });
    // Rolled back: the event's inbox row (written before the wait) is gone with the transaction, and its locks.
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where handler = ${handler.name}`;
    expect(row!.n).toBe(0);
  } finally {
    await sql.end();
  }
});

test("PostgreSQL ends a unit's session once it is silent past the handler's limit, releasing its rows, and the unit fails as the environment's", async () => {
  const sql = testSql();
  const other = testSql();
  const log = createLogger({ level: "error" });
  const id = randomUUID().slice(0, 8);
  try {
    await migrate(sql, await collectMigrations(undefined), log);
    const limits: Array<Record<string, string>> = [];
    // A handler that reads its transaction's limits, then freezes the process past them: a paused VM or a cut-off client, to PostgreSQL.
    const handler = loadHandler(`silent-${id}`, {
      topic: "orders",
      timeoutMs: 400,
      handle: async (_: unknown, ctx: { sql: Sql }) => {
        const [row] = await ctx.sql<Array<Record<string, string>>>`select current_setting('statement_timeout') as statement,
          current_setting('idle_in_transaction_session_timeout') as idle`;
        limits.push(row!);
        // Lets the other session's claim go out first, then holds the whole thread, timers too: nothing can roll back.
        await Bun.sleep(200);
        Bun.sleepSync(11_000);
      },
    });
    const eventId = `silent-${id}`;
    const applying = applyUnit([{ meta: eventMeta(eventId, 0), value: {} }], null, unitOptions(sql, handler, log));
    // Another session claiming the same event waits on the frozen one's inbox row, then gets it once PostgreSQL ends that session.
    const started = performance.now();
    const claimed = await other.begin(async (tx) => {
      await tx`set local lock_timeout = 30000`;
      return tx`insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
        values (${handler.name}, ${eventId}, 'orders', 0, 0, 'applied') on conflict do nothing returning event_id`;
    });
    const waitedMs = performance.now() - started;
    expect(limits).toEqual([{ statement: "400ms", idle: "10400ms" }]);
    expect(claimed.length).toBe(1);
    // The row was free before the frozen unit could commit it: PostgreSQL ended its session (at 0.4 s + 10 s).
    expect(waitedMs).toBeGreaterThan(9_000);
    const result = await applying;
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(judge({ error: result.failure.error, source: result.failure.source })).not.toMatchObject({ fault: "event" });
  } finally {
    // The ended session's connection does not answer a graceful end.
    await Promise.all([sql.end({ timeout: 1 }), other.end()]);
  }
}, 60_000);

test("many quick calls that add up past the limits commit: each call has its own, and the unit keeps talking to PostgreSQL", async () => {
  const sql = testSql();
  const log = createLogger({ level: "error" });
  const id = randomUUID().slice(0, 8);
  try {
    await migrate(sql, await collectMigrations(undefined), log);
    // 220 calls of 50 ms that never use ctx.sql: 11 s, past the unit's first deadline (2 x 100 ms + 10 s)
    // and past the silence PostgreSQL allows one transaction (100 ms + 10 s) if nothing were said.
    const handler = loadHandler(`many-calls-${id}`, { topic: "orders", timeoutMs: 100, handle: () => Bun.sleep(50) });
    const events = Array.from({ length: 220 }, (_, i) => ({ meta: eventMeta(`many-${id}-${i}`, i), value: {} }));
    const result = await applyUnit(events, null, unitOptions(sql, handler, log));
    expect(result.ok ? "committed" : String(result.failure.error)).toBe("committed");
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where handler = ${handler.name}`;
    expect(row!.n).toBe(220);
  } finally {
    await sql.end({ timeout: 1 });
  }
}, 60_000);

test("a live wait for dead letters longer than the silence PostgreSQL allows commits: the unit keeps talking meanwhile", async () => {
  const sql = testSql();
  const log = createLogger({ level: "error" });
  const id = randomUUID().slice(0, 8);
  try {
    await migrate(sql, await collectMigrations(undefined), log);
    const handler = loadHandler(`long-letters-${id}`, { topic: "orders", timeoutMs: 100, handle: async () => {} });
    // Kafka answers after 11 s: past 100 ms + 10 s of silence, within the 20 s the unit waits.
    const result = await applyUnit([{ meta: eventMeta(`letters-${id}`, 0), value: {} }], null, {
      ...unitOptions(sql, handler, log),
      beforeCommit: () => Bun.sleep(11_000),
      deadLetterWaitMs: 20_000,
    });
    expect(result.ok ? "committed" : String(result.failure.error)).toBe("committed");
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where handler = ${handler.name}`;
    expect(row!.n).toBe(1);
  } finally {
    await sql.end({ timeout: 1 });
  }
}, 60_000);
