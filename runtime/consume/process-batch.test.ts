/**
 * The orchestration of one partition batch against a scripted unit of work: which transactions it
 * tries, what it commits, what it dead-letters and where it stops. The unit of work itself is
 * proven against PostgreSQL elsewhere (tests/e2e/failure-policy.test.ts).
 */
import { describe, expect, test } from "bun:test";
import type { Sql } from "postgres";
import { asDatabaseError } from "../db/errors.ts";
import { KafkaError, PermanentError, RecordTooLargeError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { UnitResult } from "../inbox/unit-of-work.ts";
import type { UnitEvent } from "../inbox/unit-event.ts";
import type { OutgoingRecord } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { newPartitionState } from "./partition-state.ts";
import type { PreparedEvent } from "./prepare.ts";
import { type BatchDeps, processPrepared } from "./process-batch.ts";

const pg = (code: string) => asDatabaseError(Object.assign(new Error(`postgres says ${code}`), { code }))!;

function prepared(count: number): PreparedEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const record = { topic: "t", partition: 0, offset: String(100 + i), key: null, value: null, headers: {}, timestamp: 0 };
    return {
      kind: "event",
      record,
      meta: { id: `e${i}`, key: null, keyBytes: null, headers: {}, topic: "t", partition: 0, offset: record.offset, timestamp: 0 },
      value: i,
    };
  });
}

/** The failure `fail` returns for a transaction of these events (and whether it is a probe), or null to commit it. */
type Script = (ids: number[], dryRun: boolean) => { error: Error; source: "handler" | "claim" | "ferry"; index?: number } | null;

function world(
  script: Script,
  {
    attempts = 2,
    batchSize = 100,
    retry = { attempts, backoffMs: 10, maxBackoffMs: 100 } as LoadedHandler["retry"],
    refuse = (_record: OutgoingRecord): Error | null => null,
  } = {},
) {
  const transactions: Array<{ ids: number[]; ok: boolean; dryRun: boolean }> = [];
  const committed: string[] = [];
  const letters: OutgoingRecord[] = [];
  const marked: unknown[][] = [];
  const sleeps: number[] = [];
  const results: string[] = [];
  const fakeTx = (_strings: TemplateStringsArray, ...values: unknown[]) => {
    marked.push(values);
    return { execute: () => Promise.resolve([]) };
  };
  const deps: BatchDeps = {
    sql: { begin: async (fn: (tx: unknown) => Promise<unknown>) => fn(fakeTx) } as unknown as Sql,
    handler: { name: "h", retry } as LoadedHandler,
    groupId: "g",
    producer: {
      send: async (records) => {
        for (const record of records) {
          const refused = refuse(record);
          if (refused) throw refused;
        }
        letters.push(...records);
        return [];
      },
      stop: async () => {},
    },
    deadLetterSuffix: ".dlt",
    maxTransactionSize: batchSize,
    log: createLogger({ level: "error", sink: () => {} }),
    signal: new AbortController().signal,
    onCommitted: (next) => committed.push(next),
    onEvent: (result, record) => results.push(`${record.offset}:${result.kind === "dead-lettered" ? result.reason : result.kind}`),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
    applyUnit: async (events: UnitEvent[], _position, options): Promise<UnitResult> => {
      const ids = events.map((e) => e.value as number);
      const failure = script(ids, options.dryRun === true);
      transactions.push({ ids, ok: failure === null, dryRun: options.dryRun === true });
      if (failure) return { ok: false, failure: { source: failure.source, index: failure.index ?? -1, error: failure.error } };
      return { ok: true, results: events.map(() => ({ kind: "applied" as const })) };
    },
  };
  const reasons = () => letters.map((l) => `${l.headers?.["ferry-event-id"]}:${l.headers?.["ferry-reason"]}`);
  return { deps, transactions, committed, letters, reasons, sleeps, results };
}

const applied = (w: ReturnType<typeof world>) => w.transactions.filter((t) => t.ok && !t.dryRun).flatMap((t) => t.ids);

describe("narrowing", () => {
  test("a key PostgreSQL refuses in the claim is bisected down to its event and dead-lettered; the rest applies in order", async () => {
    const w = world((ids) => (ids.includes(5) ? { error: pg("22021"), source: "claim" } : null));
    const state = newPartitionState(100);
    expect(await processPrepared(prepared(10), w.deps, state)).toEqual({ kind: "done" });
    expect(applied(w)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    expect(w.reasons()).toEqual(["e5:unstorable-business-key"]);
    expect(w.letters[0]!.headers?.["ferry-error-code"]).toBe("22021");
    expect(w.committed.at(-1)).toBe("110");
    // Each result names its record: the dead letter is offset 105's.
    expect(w.results.filter((r) => !r.endsWith(":applied"))).toEqual(["105:unstorable-business-key"]);
    expect(w.results).toHaveLength(10);
    // Bisection, not one transaction per event: a handful of transactions for ten events.
    expect(w.transactions.length).toBeLessThanOrEqual(8);
  });

  test("a per-event handler's failure on a known event: the events before it commit, it alone is retried later", async () => {
    const w = world((ids) => (ids.includes(3) ? { error: new TypeError("event 3"), source: "handler", index: ids.indexOf(3) } : null));
    const state = newPartitionState(100);
    const outcome = await processPrepared(prepared(6), w.deps, state);
    expect(outcome).toMatchObject({ kind: "retry-later", offset: "103" });
    expect(applied(w)).toEqual([0, 1, 2]);
    expect(state.retry).toMatchObject({ offset: "103", attempts: 1 });
    // The redelivery starts at the failing event: its second (last) attempt fails, a neighbour applies, it is dead-lettered.
    const again = prepared(6).slice(3);
    expect(await processPrepared(again, w.deps, state)).toEqual({ kind: "done" });
    expect(w.reasons()).toEqual(["e3:exhausted"]);
    expect(applied(w)).toEqual([0, 1, 2, 4, 5]);
    expect(state.retry).toBeUndefined();
  });
});

describe("contention", () => {
  test("deadlocks shrink the transactions without spending attempts or dead-lettering anything", async () => {
    // Any transaction of more than two events deadlocks.
    const w = world((ids) => (ids.length > 2 ? { error: pg("40P01"), source: "handler", index: 0 } : null), { attempts: 1 });
    const state = newPartitionState(100);
    expect(await processPrepared(prepared(12), w.deps, state)).toEqual({ kind: "done" });
    expect(applied(w)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(w.letters).toEqual([]);
    // Halved on each deadlock, doubled back after a few full commits: it stays near what works.
    expect(state.size.limit).toBeLessThanOrEqual(4);
    expect(w.transactions.filter((t) => !t.ok).length).toBeLessThanOrEqual(8);
  });

  test("a single event that keeps meeting contention is retried, never dead-lettered, even past its attempts", async () => {
    let deadlocks = 3;
    const w = world((ids) => (ids.includes(0) && deadlocks-- > 0 ? { error: pg("40001"), source: "handler", index: 0 } : null), { attempts: 1 });
    const state = newPartitionState(1);
    expect(await processPrepared(prepared(2), w.deps, state)).toEqual({ kind: "done" });
    expect(applied(w)).toEqual([0, 1]);
    expect(w.letters).toEqual([]);
    // Its three backoffs went through the injected sleep (ferry/testing's fake clock), not a timer.
    expect(w.sleeps).toHaveLength(3);
  });
});

describe("waiting", () => {
  test("the database going away waits at the first event not applied; nothing is dead-lettered", async () => {
    let calls = 0;
    const w = world(() => (calls++ === 1 ? { error: pg("CONNECTION_CLOSED"), source: "ferry" } : null), { batchSize: 3 });
    const state = newPartitionState(3);
    const outcome = await processPrepared(prepared(10), w.deps, state);
    expect(outcome).toMatchObject({ kind: "wait", offset: "103" });
    expect(w.letters).toEqual([]);
    expect(state.lastFailure).toMatchObject({ errorClass: "DatabaseError", errorCode: "CONNECTION_CLOSED", source: "ferry", offset: "103" });
  });

  test("a failure every event shares (a missing table) is not dead-lettered event after event: the partition waits", async () => {
    const w = world(() => ({ error: pg("42P01"), source: "handler", index: 0 }), { attempts: 1 });
    const state = newPartitionState(100);
    const outcome = await processPrepared(prepared(5), w.deps, state);
    expect(outcome).toMatchObject({ kind: "wait", offset: "100", systemic: true });
    expect(w.letters).toEqual([]);
    // Probes ran in transactions that roll back.
    expect(w.transactions.filter((t) => t.dryRun).map((t) => t.ids)).toEqual([[1], [2], [3]]);
  });

  test("the same failure on one event only (a neighbour applies) dead-letters that event", async () => {
    const w = world((ids) => (ids.includes(2) ? { error: pg("42P01"), source: "handler", index: ids.indexOf(2) } : null), { attempts: 1 });
    expect(await processPrepared(prepared(5), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.reasons()).toEqual(["e2:exhausted"]);
    expect(applied(w)).toEqual([0, 1, 3, 4]);
  });

  test("the last event of a batch with nothing after it to compare with is dead-lettered after its attempts", async () => {
    const w = world((ids) => (ids.includes(1) ? { error: new TypeError("bad"), source: "handler", index: ids.indexOf(1) } : null), { attempts: 1 });
    expect(await processPrepared(prepared(2), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.reasons()).toEqual(["e1:exhausted"]);
  });
});

describe("moving past an event", () => {
  test("a transaction PostgreSQL never settles is abandoned at its deadline: the partition waits and tries again, never stops", async () => {
    const w = world((ids) => (ids.includes(1) ? { error: new PermanentError("never"), source: "handler", index: ids.indexOf(1) } : null));
    let hang = true;
    const begin = w.deps.sql.begin;
    w.deps.sql = { begin: (fn: never) => (hang ? new Promise(() => {}) : begin(fn)) } as unknown as Sql;
    w.deps.commitDeadlineMs = 20;
    const state = newPartitionState(100);
    const outcome = await processPrepared(prepared(3), w.deps, state);
    expect(outcome).toMatchObject({ kind: "wait", offset: "101" });
    expect(state.lastFailure).toMatchObject({ source: "ferry", errorCode: "UNIT_DEADLINE" });
    hang = false;
    expect(await processPrepared(prepared(3).slice(1), w.deps, state)).toEqual({ kind: "done" });
    expect(w.committed.at(-1)).toBe("103");
    expect(w.results.filter((r) => r.startsWith("101:"))).toEqual(["101:permanent"]);
  });
});

describe("retry topics", () => {
  const topics = { mode: "topics", delaysMs: [1_000, 2_000] } as LoadedHandler["retry"];
  const failsOn = (n: number) => (ids: number[]) =>
    ids.includes(n) ? { error: new TypeError(`event ${n}`), source: "handler" as const, index: ids.indexOf(n) } : null;

  test("a failed event goes to its retry topic and the partition moves on", async () => {
    const w = world(failsOn(1), { retry: topics });
    expect(await processPrepared(prepared(3), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.letters.map((l) => l.topic)).toEqual(["t.h.retry.1"]);
    expect(applied(w)).toEqual([0, 2]);
    expect(w.results).toContain("101:sent-to-retry");
  });

  test("a retry record Kafka refuses as too large is dead-lettered with that reason: the partition does not wait for ever", async () => {
    const tooLarge = (r: OutgoingRecord) => (r.topic.includes(".retry.") ? new RecordTooLargeError("Broker: Message size too large") : null);
    const w = world(failsOn(1), { retry: topics, refuse: tooLarge });
    expect(await processPrepared(prepared(3), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.reasons()).toEqual(["e1:retry-record-too-large"]);
    expect(w.letters[0]!.topic).toBe("t.dlt");
    expect(applied(w)).toEqual([0, 2]);
    expect(w.committed.at(-1)).toBe("103");
  });

  test("a broker that cannot take the retry record now makes the partition wait at the event: nothing skipped", async () => {
    const down = (r: OutgoingRecord) =>
      r.topic.includes(".retry.") ? new KafkaError("Local: Broker transport failure", { code: "ERR__TRANSPORT", retriable: true }) : null;
    const w = world(failsOn(1), { retry: topics, refuse: down });
    const state = newPartitionState(100);
    expect(await processPrepared(prepared(3), w.deps, state)).toMatchObject({ kind: "wait", offset: "101" });
    expect(w.letters).toEqual([]);
    expect(state.lastFailure).toMatchObject({ source: "retry-topic", errorCode: "ERR__TRANSPORT" });
  });
});
