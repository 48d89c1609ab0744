/**
 * Key-level concurrency against a scripted unit of work: which events run side by side, in which
 * order per key, and which offset is stored. The unit of work is proven against PostgreSQL
 * elsewhere; tests/faults/key-concurrency.test.ts proves the whole under SIGKILLs.
 */
import { describe, expect, test } from "bun:test";
import type { Sql } from "postgres";
import { asDatabaseError } from "../db/errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { UnitResult } from "../inbox/unit-of-work.ts";
import type { UnitEvent } from "../inbox/unit-event.ts";
import type { TopicPartitionOffset } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { newPartitionState } from "./partition-state.ts";
import type { PreparedEvent } from "./prepare.ts";
import { type ByKeyDeps, processByKey } from "./process-by-key.ts";
import { createSlots } from "./slots.ts";

function prepared(keys: Array<string | null>): PreparedEvent[] {
  return keys.map((key, i) => {
    const record = { topic: "t", partition: 0, offset: String(100 + i), key: key === null ? null : Buffer.from(key), value: null, headers: {}, timestamp: 0 };
    return {
      kind: "event",
      record,
      meta: { id: `e${i}`, key, keyBytes: record.key, headers: {}, topic: "t", partition: 0, offset: record.offset, timestamp: 0 },
      value: i,
    };
  });
}

type Step = (id: number, attempt: number) => Promise<{ error: Error; source: "handler" | "ferry" } | null>;

function world(step: Step, { perPartition = 4, order = "key" as const, attempts = 3 } = {}) {
  const log: Array<{ id: number; at: "start" | "end"; ok?: boolean }> = [];
  const positions: Array<TopicPartitionOffset | null> = [];
  const stored: string[] = [];
  const committed: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const stopping = new AbortController();
  const deps: ByKeyDeps = {
    sql: {} as Sql,
    handler: { name: "h", retry: { attempts, backoffMs: 5, maxBackoffMs: 10 } } as LoadedHandler,
    groupId: "g",
    producer: { send: async () => [], stop: async () => {} },
    deadLetterSuffix: ".dlt",
    maxTransactionSize: 100,
    log: createLogger({ level: "error", sink: () => {} }),
    signal: new AbortController().signal,
    onCommitted: (next) => committed.push(next),
    random: () => 0,
    concurrency: { perPartition, order },
    stopping: stopping.signal,
    advanceOffset: async (next) => {
      stored.push(next);
      await Bun.sleep(1);
    },
    applyUnit: async (events: UnitEvent[], position, options): Promise<UnitResult> => {
      const id = events[0]!.value as number;
      positions.push(position);
      running++;
      maxRunning = Math.max(maxRunning, running);
      log.push({ id, at: "start" });
      const failure = await step(id, options.attempt);
      running--;
      log.push({ id, at: "end", ok: failure === null });
      if (failure) return { ok: false, failure: { source: failure.source, index: 0, error: failure.error } };
      return { ok: true, results: [{ kind: "applied" }] };
    },
  };
  return { deps, log, positions, stored, committed, stopping, maxRunning: () => maxRunning };
}

const pause = (ms: number) => Bun.sleep(ms);

describe("processByKey", () => {
  test("runs different keys side by side, one key strictly in offset order, within the limit", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `k${(i * 7) % 5}`);
    const w = world(async (id) => {
      await pause((id * 13) % 7);
      return null;
    });
    expect(await processByKey(prepared(keys), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.maxRunning()).toBe(4);
    // Per key: each event starts after the previous one of its key ended, in offset order.
    const lastEnded = new Map<string, number>();
    const running = new Set<number>();
    for (const entry of w.log) {
      const key = keys[entry.id]!;
      if (entry.at === "start") {
        for (const other of running) expect(keys[other]).not.toBe(key);
        const before = lastEnded.get(key);
        if (before !== undefined) expect(before).toBeLessThan(entry.id);
        running.add(entry.id);
      } else {
        running.delete(entry.id);
        lastEnded.set(key, entry.id);
      }
    }
    // Every event applied once, in its own transaction that writes no offset.
    expect(w.log.filter((e) => e.at === "end" && e.ok).length).toBe(40);
    expect(w.positions.every((p) => p === null)).toBe(true);
    // The stored offset only moves forward and ends after the last record.
    expect(w.stored.map(Number)).toEqual([...w.stored.map(Number)].sort((a, b) => a - b));
    expect(w.stored.at(-1)).toBe("140");
    expect(w.committed.at(-1)).toBe("140");
  });

  test("the worker's connection slots bound the events running at once, across partitions", async () => {
    const slots = createSlots(3);
    let running = 0;
    let most = 0;
    const step: Step = async () => {
      most = Math.max(most, ++running);
      await pause(3);
      running--;
      return null;
    };
    const a = world(step, { perPartition: 8 });
    const b = world(step, { perPartition: 8 });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const outcomes = await Promise.all([
      processByKey(prepared(keys), { ...a.deps, slots }, newPartitionState(100)),
      processByKey(prepared(keys), { ...b.deps, slots }, newPartitionState(100)),
    ]);
    expect(outcomes).toEqual([{ kind: "done" }, { kind: "done" }]);
    expect(most).toBe(3);
    expect(slots.free).toBe(3);
  });

  test("the stored offset waits for the first event while later ones finish", async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const w = world(async (id) => {
      if (id === 0) await slow;
      return null;
    });
    const outcome = processByKey(prepared(["a", "b", "c", "d"]), w.deps, newPartitionState(100));
    await pause(20);
    expect(w.log.filter((e) => e.at === "end").map((e) => e.id)).toEqual([1, 2, 3]);
    expect(w.stored).toEqual([]);
    release();
    expect(await outcome).toEqual({ kind: "done" });
    expect(w.stored).toEqual(["104"]);
  });

  test('order "none": the same key runs side by side', async () => {
    const w = world(
      async () => {
        await pause(5);
        return null;
      },
      { order: "none" as never, perPartition: 3 },
    );
    expect(await processByKey(prepared(["a", "a", "a"]), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    expect(w.maxRunning()).toBe(3);
  });

  test("a failed attempt waits out its backoff holding only its key; the others go on", async () => {
    const w = world(async (id, attempt) => (id === 0 && attempt === 1 ? { error: new Error("flaky provider"), source: "handler" } : null));
    expect(await processByKey(prepared(["a", "a", "b", "c"]), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    const ends = w.log.filter((e) => e.at === "end").map((e) => `${e.id}${e.ok ? "" : "!"}`);
    expect(ends.indexOf("0!")).toBe(0);
    // b and c finished while a waited; a's second event only after a's retry.
    expect(ends.indexOf("2")).toBeLessThan(ends.lastIndexOf("0"));
    expect(ends.indexOf("1")).toBeGreaterThan(ends.lastIndexOf("0"));
    expect(w.stored.at(-1)).toBe("104");
  });

  test("an environment failure stops the batch at the completed prefix", async () => {
    const down = asDatabaseError(Object.assign(new Error("connection refused"), { code: "08006" }))!;
    const w = world(async (id) => (id === 2 ? { error: down, source: "ferry" } : null), { perPartition: 1 });
    const outcome = await processByKey(prepared(["a", "b", "c", "d", "e"]), w.deps, newPartitionState(100));
    expect(outcome).toMatchObject({ kind: "wait", offset: "102" });
    expect(w.log.filter((e) => e.at === "start").map((e) => e.id)).toEqual([0, 1, 2]);
  });

  test("a prefix that cannot be stored stops the batch at the last one stored, so Kafka is never offered more", async () => {
    const w = world(async () => null, { perPartition: 1 });
    let writes = 0;
    const down = asDatabaseError(Object.assign(new Error("connection refused"), { code: "08006" }))!;
    w.deps.advanceOffset = async () => {
      if (++writes > 1) throw down;
    };
    const outcome = await processByKey(prepared(["a", "b", "c", "d"]), w.deps, newPartitionState(100));
    expect(outcome).toMatchObject({ kind: "wait", offset: w.committed[0] ?? "100", failure: { source: "ferry" } });
    expect(w.committed.length).toBeLessThanOrEqual(1);
  });

  test("a revocation starts nothing new, lets the running events finish and cuts at the prefix", async () => {
    let stopping!: AbortController;
    const w = world(async (id) => {
      // Revoked while event 3 runs (and event 1, of another key, still runs too).
      if (id === 3) stopping.abort();
      await pause(id === 1 ? 30 : 5);
      return null;
    });
    stopping = w.stopping;
    const outcome = await processByKey(prepared(["a", "b", "a", "a", "a", "a"]), w.deps, newPartitionState(100));
    expect(outcome).toEqual({ kind: "cut", offset: "104" });
    // Events 1 and 3 were running: they finished (committed) even though the batch stopped.
    expect(new Set(w.log.filter((e) => e.at === "end" && e.ok).map((e) => e.id))).toEqual(new Set([0, 1, 2, 3]));
    expect(w.log.some((e) => e.id >= 4)).toBe(false);
    expect(w.stored.at(-1)).toBe("104");
  });

  test("retry topics: a failed event goes to its retry topic and its key moves on at once; the prefix covers it", async () => {
    const sent: Array<{ topic: string; partition?: number; headers?: Record<string, Buffer | string> }> = [];
    const w = world(async (id, attempt) => (id === 0 && attempt === 1 ? { error: new Error("provider down"), source: "handler" } : null));
    w.deps.handler = { name: "h", retry: { mode: "topics", delaysMs: [60_000] } } as LoadedHandler;
    w.deps.producer = {
      send: async (records) => {
        sent.push(...records);
        return [];
      },
      stop: async () => {},
    };
    const started = Date.now();
    expect(await processByKey(prepared(["k0", "k0", "k1"]), w.deps, newPartitionState(100))).toEqual({ kind: "done" });
    // No backoff waited in place: the retry is due in a minute, its key's next event ran at once.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(w.log.filter((e) => e.at === "end").map((e) => [e.id, e.ok])).toEqual(
      expect.arrayContaining([
        [0, false],
        [1, true],
        [2, true],
      ]),
    );
    expect(w.log.filter((e) => e.id === 0 && e.at === "start")).toHaveLength(1);
    expect(sent.map((r) => [r.topic, r.partition, String(r.headers?.["ferry-retry-attempt"])])).toEqual([["t.h.retry.1", 0, "2"]]);
    expect(Number(sent[0]!.headers!["ferry-retry-due-at"])).toBeGreaterThanOrEqual(started + 60_000);
    expect(w.stored.at(-1)).toBe("103");
  });
});
