import { describe, expect, test } from "bun:test";
import { createPartitionLanes, type LaneDeps } from "./partition-lanes.ts";
import type { BatchProgress, KafkaRecord, PartitionBatch } from "../kafka/port.ts";

const record = (partition: number, offset: number, topic = "t"): KafkaRecord => ({
  topic,
  partition,
  offset: String(offset),
  key: null,
  value: null,
  headers: {},
  timestamp: 0,
});
const records = (partition: number, from: number, count: number) => Array.from({ length: count }, (_, i) => record(partition, from + i));
const offsets = (batch: PartitionBatch) => batch.records.map((r) => Number(r.offset));

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const until = async (what: string, condition: () => boolean, timeoutMs = 2_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
};

/** Lanes whose deliveries are recorded and answered by `answer` (default: done at once). */
function harness(overrides: Partial<LaneDeps> & { answer?: (batch: PartitionBatch) => Promise<BatchProgress> } = {}) {
  const delivered: PartitionBatch[] = [];
  const fetching: Array<[string, boolean]> = [];
  const failures: unknown[] = [];
  const lanes = createPartitionLanes({
    maxBatchSize: 3,
    concurrency: 8,
    capacity: 6,
    deliver: (batch) => {
      delivered.push(batch);
      return overrides.answer ? overrides.answer(batch) : Promise.resolve();
    },
    setFetching: (tp, on) => fetching.push([`${tp.topic}:${tp.partition}`, on]),
    highWatermark: () => "100",
    onBatchFailed: (_tp, error) => {
      failures.push(error);
      return 5;
    },
    ...overrides,
  });
  return { lanes, delivered, fetching, failures };
}

describe("partition lanes", () => {
  test("hands each partition's records over in offset order, at most maxBatchSize at a time", async () => {
    const { lanes, delivered } = harness();
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 7));
    await until("7 records", () => delivered.flatMap(offsets).length === 7);
    expect(delivered.map(offsets)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(delivered[0]!.highWatermark).toBe("100");
  });

  test("a slow partition does not hold up another", async () => {
    const slow = deferred();
    const { lanes, delivered } = harness({ answer: (b) => (b.partition === 0 ? slow.promise : Promise.resolve()) });
    lanes.open({ topic: "t", partition: 0 });
    lanes.open({ topic: "t", partition: 1 });
    lanes.push(records(0, 0, 1));
    lanes.push(records(1, 0, 1));
    lanes.push(records(1, 1, 1));
    await until("partition 1 twice", () => delivered.filter((b) => b.partition === 1).length === 2);
    expect(delivered.filter((b) => b.partition === 0)).toHaveLength(1);
    slow.resolve();
  });

  test("runs at most `concurrency` batches at once, the waiting partitions in turn", async () => {
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let most = 0;
    const { lanes, delivered } = harness({
      concurrency: 2,
      answer: async (b) => {
        most = Math.max(most, ++running);
        await gates[b.partition]!.promise;
        running--;
      },
    });
    for (const p of [0, 1, 2]) lanes.open({ topic: "t", partition: p });
    lanes.push([record(0, 0), record(1, 0), record(2, 0)]);
    await until("two batches", () => delivered.length === 2);
    await Bun.sleep(10);
    expect(delivered.map((b) => b.partition)).toEqual([0, 1]);
    gates[1]!.resolve();
    await until("partition 2", () => delivered.length === 3);
    expect(delivered[2]!.partition).toBe(2);
    gates[0]!.resolve();
    gates[2]!.resolve();
    expect(most).toBe(2);
  });

  test("stops fetching a full partition and starts again once it is half empty", async () => {
    const gate = deferred();
    const { lanes, fetching, delivered } = harness({ answer: () => gate.promise });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 6));
    expect(fetching).toEqual([["t:0", false]]);
    gate.resolve();
    await until("all delivered", () => delivered.flatMap(offsets).length === 6);
    await until("fetching again", () => fetching.length === 2);
    expect(fetching[1]).toEqual(["t:0", true]);
  });

  test("a lane whose turn is not near buffers less, and fills up once its turn comes near", async () => {
    const gates = [deferred(), deferred(), deferred()];
    const { lanes, fetching, delivered } = harness({
      concurrency: 1,
      farCapacity: 2,
      answer: () => gates[delivered.length - 1]?.promise ?? Promise.resolve(),
    });
    for (const p of [0, 1, 2]) lanes.open({ topic: "t", partition: p });
    lanes.push(records(0, 0, 3)); // partition 0's batch under way
    lanes.push(records(1, 0, 2)); // next in turn: near, room for 6
    lanes.push(records(2, 0, 2)); // second in line: far, room for 2
    expect(fetching).toEqual([["t:2", false]]);
    gates[0]!.resolve();
    await until("partition 1 under way", () => delivered.length === 2);
    // Partition 2 is next now: fetched again, up to the full capacity.
    await until("partition 2 fetched again", () => fetching.length === 2);
    expect(fetching[1]).toEqual(["t:2", true]);
    lanes.push(records(2, 2, 3));
    expect(fetching).toHaveLength(2);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await until("partition 2 delivered", () => delivered.filter((b) => b.partition === 2).flatMap(offsets).length === 5);
  });

  test("records in the batch under way do not count: the lane fetches the next batch while one runs", async () => {
    const gates = [deferred(), deferred()];
    const { lanes, fetching, delivered } = harness({ answer: () => gates[delivered.length - 1]!.promise });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 6));
    expect(fetching).toEqual([["t:0", false]]);
    gates[0]!.resolve();
    await until("the second batch under way", () => delivered.length === 2);
    // Its 3 records are the lane's only ones: waiting for them to finish would leave it idle.
    expect(fetching).toEqual([
      ["t:0", false],
      ["t:0", true],
    ]);
    gates[1]!.resolve();
  });

  test("a retry waits its time, then redelivers from the offset it stopped at", async () => {
    let first = true;
    const { lanes, delivered } = harness({
      answer: async (b) => {
        if (!first) return;
        first = false;
        return { stopAt: String(Number(b.records[1]!.offset)), resumeAfterMs: 40 };
      },
    });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 10, 3));
    await until("redelivery", () => delivered.length === 2);
    expect(delivered.map(offsets)).toEqual([
      [10, 11, 12],
      [11, 12],
    ]);
  });

  test("records below the next expected offset are repeats and are dropped", async () => {
    const { lanes, delivered } = harness();
    lanes.open({ topic: "t", partition: 0 }, { nextOffset: "5" });
    lanes.push([record(0, 3), record(0, 4), record(0, 5)]);
    lanes.push([record(0, 5), record(0, 6)]);
    await until("two records", () => delivered.flatMap(offsets).length === 2);
    await Bun.sleep(10);
    expect(delivered.flatMap(offsets)).toEqual([5, 6]);
  });

  test("a held partition fetches and delivers nothing until released", async () => {
    const { lanes, delivered, fetching } = harness();
    lanes.open({ topic: "t", partition: 0 }, { held: true });
    expect(fetching).toEqual([["t:0", false]]);
    lanes.push(records(0, 0, 2));
    await Bun.sleep(20);
    expect(delivered).toHaveLength(0);
    lanes.setHeld({ topic: "t", partition: 0 }, false);
    await until("delivery", () => delivered.length === 1);
    expect(fetching[1]).toEqual(["t:0", true]);
  });

  test("pausing tells the batch under way to stop; it is delivered again from where it stopped once released", async () => {
    const { lanes, delivered } = harness({
      answer: async (batch) => {
        if (delivered.length > 1) return;
        await until("the pause", () => batch.stopping.aborted);
        return { stopAt: "1", resumeAfterMs: 0 };
      },
    });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 3));
    await until("in flight", () => delivered.length === 1);
    lanes.setHeld({ topic: "t", partition: 0 }, true);
    await Bun.sleep(20);
    expect(delivered).toHaveLength(1);
    lanes.setHeld({ topic: "t", partition: 0 }, false);
    await until("redelivery", () => delivered.length === 2);
    expect(offsets(delivered[1]!)).toEqual([1, 2]);
  });

  test("a batch that throws is redelivered after the wait onBatchFailed chose", async () => {
    let calls = 0;
    const { lanes, delivered, failures } = harness({
      answer: async () => {
        if (calls++ === 0) throw new Error("boom");
      },
    });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 2));
    await until("redelivery", () => delivered.length === 2);
    expect(failures.map(String)).toEqual(["Error: boom"]);
    expect(delivered.map(offsets)).toEqual([
      [0, 1],
      [0, 1],
    ]);
  });

  test("closing waits for the batch in flight; one that outlasts the wait is stale", async () => {
    const gate = deferred();
    const { lanes, delivered } = harness({ answer: () => gate.promise });
    lanes.open({ topic: "t", partition: 0 });
    lanes.open({ topic: "t", partition: 1 });
    lanes.push([record(0, 0), record(1, 0)]);
    await until("both in flight", () => delivered.length === 2);
    const closing = lanes.close([{ topic: "t", partition: 0 }], 20);
    // Told at once, before the wait: a batch running events side by side starts no more.
    expect(delivered[0]!.stopping.aborted).toBe(true);
    expect(delivered[1]!.stopping.aborted).toBe(false);
    await closing;
    expect(delivered[0]!.isStale()).toBe(true);
    expect(delivered[1]!.isStale()).toBe(false);
    expect(lanes.assigned()).toEqual([{ topic: "t", partition: 1 }]);

    const quick = harness();
    quick.lanes.open({ topic: "t", partition: 0 });
    quick.lanes.push([record(0, 0)]);
    await quick.lanes.close([{ topic: "t", partition: 0 }], 1_000);
    expect(quick.delivered[0]!.isStale()).toBe(false);
    quick.lanes.push([record(0, 1)]); // revoked: its next owner reads it
    await Bun.sleep(10);
    expect(quick.delivered).toHaveLength(1);
    gate.resolve();
  });

  test("drain waits for batches in flight and starts no new one", async () => {
    const gate = deferred();
    const { lanes, delivered } = harness({ answer: () => gate.promise });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 0, 5));
    await until("in flight", () => delivered.length === 1);
    let drained = false;
    const draining = lanes.drain().then(() => (drained = true));
    expect(delivered[0]!.stopping.aborted).toBe(true);
    await Bun.sleep(10);
    expect(drained).toBe(false);
    gate.resolve();
    await draining;
    await Bun.sleep(10);
    expect(delivered).toHaveLength(1);
  });

  test("a lane that wants records, is behind its high watermark and got none for a while is waiting; moved past empty offsets, it is not", async () => {
    let hw = "10";
    const { lanes, delivered } = harness({ highWatermark: (tp) => (tp.partition === 0 ? hw : "10") });
    lanes.open({ topic: "t", partition: 0 });
    lanes.open({ topic: "t", partition: 1 });
    lanes.push(records(0, 0, 3));
    lanes.push(records(1, 0, 10));
    await until("both drained", () => delivered.flatMap(offsets).length === 13);
    const now = Date.now();
    // Partition 0 took offsets 0-2 of 10: behind. Partition 1 is caught up: idle, not waiting.
    expect(lanes.waiting(now + 1_000, 5_000)).toEqual([]);
    expect(lanes.waiting(now + 6_000, 5_000)).toMatchObject([{ topic: "t", partition: 0, nextOffset: "3", highWatermark: "10" }]);
    expect(lanes.waiting(now + 7_000, 5_000)).toHaveLength(1);
    // A record arriving ends it; an operator's hold is no waiting either.
    lanes.push(records(0, 3, 1));
    await until("the next record", () => delivered.flatMap(offsets).length === 14);
    expect(lanes.waiting(Date.now() + 1_000, 5_000)).toEqual([]);
    lanes.setHeld({ topic: "t", partition: 0 }, true);
    expect(lanes.waiting(Date.now() + 60_000, 5_000)).toEqual([]);
    // An end the client never saw: it is not fetching the partition at all.
    hw = "-1001";
    lanes.setHeld({ topic: "t", partition: 0 }, false);
    expect(lanes.waiting(Date.now() + 60_000, 5_000)).toMatchObject([{ partition: 0, nextOffset: "4", highWatermark: "unknown" }]);
    // Offsets 4-9 hold nothing for it (markers): moved past them, it is caught up; never backwards.
    hw = "10";
    expect(lanes.movePast({ topic: "t", partition: 0 }, "10")).toBe(true);
    expect(lanes.movePast({ topic: "t", partition: 0 }, "8")).toBe(false);
    expect(lanes.waiting(Date.now() + 60_000, 5_000)).toEqual([]);
    // Records below the new offset are repeats now; the next ones are taken.
    lanes.push(records(0, 9, 3));
    await until("offsets 10 and 11", () => delivered.flatMap(offsets).length === 16);
    expect(delivered.flatMap(offsets).slice(-2)).toEqual([10, 11]);
  });

  test("a batch under way for longer than a limit is reported once; a lane waiting on it is not starving", async () => {
    const stuck = deferred<BatchProgress>();
    const { lanes, delivered } = harness({ answer: () => stuck.promise, highWatermark: () => "10" });
    lanes.open({ topic: "t", partition: 0 });
    lanes.push(records(0, 4, 3));
    await until("the batch started", () => delivered.length === 1);
    const now = Date.now();
    expect(lanes.longRunning(now + 1_000, 60_000)).toEqual([]);
    expect(lanes.longRunning(now + 61_000, 60_000)).toMatchObject([{ topic: "t", partition: 0, records: 3, firstOffset: "4" }]);
    expect(lanes.longRunning(now + 120_000, 60_000)).toEqual([]);
    expect(lanes.waiting(now + 120_000, 5_000)).toEqual([]);
    // Settled, the next batch's clock starts afresh.
    stuck.resolve(undefined as unknown as BatchProgress);
    lanes.push(records(0, 7, 3));
    await until("the next batch started", () => delivered.length === 2);
    expect(lanes.longRunning(Date.now() + 1_000, 60_000)).toEqual([]);
  });

  test("a jump past the log start is reported as records deleted, and the records after it are taken", async () => {
    const changes: unknown[] = [];
    const { lanes, delivered } = harness({ logStart: () => "50", highWatermark: () => "60", onLogChanged: (_tp, c) => changes.push(c) });
    lanes.open({ topic: "t", partition: 0 }, { nextOffset: "10" });
    lanes.push(records(0, 50, 3));
    await until("3 records", () => delivered.flatMap(offsets).length === 3);
    expect(changes).toEqual([{ kind: "records-deleted", from: "10", to: "50", skipped: "40" }]);
    lanes.push(records(0, 53, 2));
    await until("5 records", () => delivered.flatMap(offsets).length === 5);
    expect(changes).toHaveLength(1);
  });

  test("records of a log ending below the lane's offset are held back and reported once, until the leader says otherwise", async () => {
    const changes: unknown[] = [];
    let end = "30";
    const { lanes, delivered } = harness({ logStart: () => "0", highWatermark: () => end, onLogChanged: (_tp, c) => changes.push(c) });
    lanes.open({ topic: "t", partition: 0 }, { nextOffset: "200" });
    lanes.push(records(0, 0, 3));
    lanes.push(records(0, 3, 3));
    expect(changes).toEqual([{ kind: "log-replaced", stored: "200", logStart: "0", logEnd: "30" }]);
    // Held back: nothing of the new log runs before the lane is opened again.
    end = "300";
    lanes.push(records(0, 200, 3));
    await Bun.sleep(20);
    expect(delivered).toHaveLength(0);
    expect(lanes.notReplaced({ topic: "t", partition: 0 })).toBe("200");
    lanes.push(records(0, 200, 3));
    await until("3 records", () => delivered.flatMap(offsets).length === 3);
    expect(delivered.flatMap(offsets)).toEqual([200, 201, 202]);
  });
});
