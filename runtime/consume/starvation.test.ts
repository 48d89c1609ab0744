import { describe, expect, test } from "bun:test";
import { waitFor } from "../../tests/support/wait.ts";
import type { ConsumerClient, ConsumerClientHooks, KafkaPort } from "../kafka/port.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { createLaneConsumer } from "./lane-consumer.ts";
import { heldByOpenTransaction, idleLaneAction, refetchKey } from "./starvation.ts";

describe("idleLaneAction", () => {
  const lane = { nextOffset: "3", highWatermark: "10", fetchPosition: "3", idleMs: 1_000, lastRefetch: undefined, sinceResumeMs: Infinity };

  test("the client short of the end: nothing until the lane starved, then resume and fetch from the lane's offset, once per period", () => {
    expect(idleLaneAction(lane, 20_000)).toEqual({ action: "none" });
    expect(idleLaneAction({ ...lane, idleMs: 20_000 }, 20_000)).toEqual({ action: "resume", seekTo: "3" });
    expect(idleLaneAction({ ...lane, idleMs: 25_000, sinceResumeMs: 5_000 }, 20_000)).toEqual({ action: "none" });
    expect(idleLaneAction({ ...lane, idleMs: 45_000, sinceResumeMs: 25_000, fetchPosition: "-1" }, 20_000)).toEqual({ action: "resume", seekTo: "3" });
  });

  test("an end the client never saw is no reason to wait: it is not fetching the partition", () => {
    expect(idleLaneAction({ ...lane, highWatermark: "unknown", fetchPosition: "-1", idleMs: 20_000 }, 20_000)).toEqual({ action: "resume", seekTo: "3" });
  });

  test("the client at the end and the lane not: fetch once more from the lane's offset; back at the end with nothing, move past", () => {
    const atEnd = { ...lane, fetchPosition: "10" };
    expect(idleLaneAction(atEnd, 20_000)).toEqual({ action: "refetch", seekTo: "3" });
    expect(idleLaneAction({ ...atEnd, lastRefetch: refetchKey("3", "10") }, 20_000)).toEqual({ action: "move-past", to: "10" });
    // Refetched, the client is not back at the end yet: wait for it.
    expect(idleLaneAction({ ...lane, fetchPosition: "-1", lastRefetch: refetchKey("3", "10") }, 20_000)).toEqual({ action: "none" });
    // The partition grew since the refetch: a new question, asked once.
    expect(idleLaneAction({ ...atEnd, highWatermark: "12", fetchPosition: "12", lastRefetch: refetchKey("3", "10") }, 20_000)).toEqual({
      action: "refetch",
      seekTo: "3",
    });
  });

  test("the log start past the lane's offset: retention took what it never got; it goes on from the log start, whatever the client says", () => {
    expect(idleLaneAction({ ...lane, logStart: "7" }, 20_000)).toEqual({ action: "past-deleted", to: "7" });
    expect(idleLaneAction({ ...lane, fetchPosition: "10", logStart: "10", idleMs: 45_000 }, 20_000)).toEqual({ action: "past-deleted", to: "10" });
    expect(idleLaneAction({ ...lane, logStart: "3" }, 20_000)).toEqual({ action: "none" });
    expect(idleLaneAction({ ...lane, logStart: "-1" }, 20_000)).toEqual({ action: "none" });
  });
});

describe("heldByOpenTransaction", () => {
  test("a stable end at or below the lane's offset is an open transaction; past it, or unknown, it is not", () => {
    expect(heldByOpenTransaction("5", "5")).toBe(true);
    expect(heldByOpenTransaction("4", "5")).toBe(true);
    expect(heldByOpenTransaction("6", "5")).toBe(false);
    expect(heldByOpenTransaction(undefined, "5")).toBe(false);
    expect(heldByOpenTransaction("-1", "5")).toBe(false);
  });
});

/**
 * A client that read partition 0 up to its end (10) for an earlier assignment and, assigned it again
 * from offset 5, goes on from 10: nothing more comes unless the lane consumer fetches from 5 again.
 */
function clientAheadOfTheLane(options: { paused?: boolean; markersOnly?: boolean; openTransaction?: boolean }) {
  let hooks: ConsumerClientHooks | undefined;
  let position = options.paused || options.openTransaction ? 5 : 10;
  let paused = options.paused ?? false;
  // Under read_committed nothing past the stable end is fetched: an open transaction holds it at 5.
  const stable = { end: options.openTransaction ? 5 : 10 };
  let assigned = false;
  const seeks: string[] = [];
  const client: ConsumerClient = {
    connect: async () => undefined,
    subscribe: () => undefined,
    async fetch() {
      await Bun.sleep(5);
      if (!assigned) {
        assigned = true;
        hooks?.onRebalance({ kind: "assign", partitions: [{ topic: "t", partition: 0 }], lost: false });
        return { records: [], failure: null };
      }
      if (paused || position >= stable.end) return { records: [], failure: null };
      if (options.markersOnly) {
        // Offsets 5-9 are a transaction's records that were aborted and its marker: read, never delivered.
        position = 10;
        return { records: [], failure: null };
      }
      const records = Array.from({ length: stable.end - position }, (_, i) => ({
        topic: "t",
        partition: 0,
        offset: String(position + i),
        key: null,
        value: Buffer.from("v"),
        headers: {},
        timestamp: 0,
      }));
      position = stable.end;
      return { records, failure: null };
    },
    assign: () => undefined,
    unassign: () => undefined,
    pause: () => undefined,
    resume: () => {
      paused = false;
    },
    seek(p) {
      seeks.push(p.offset);
      position = Number(p.offset);
    },
    commit: async () => undefined,
    committed: async () => [],
    highWatermark: () => "10",
    logStart: () => "0",
    logBounds: async () => ({ logStart: "0", logEnd: "10" }),
    stableEnd: async () => String(stable.end),
    fetchPosition: () => String(position),
    refreshMetadata: async () => undefined,
    unsubscribe: () => undefined,
    staticMember: false,
    disconnect: async () => undefined,
  };
  const logged: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: "debug", sink: (line) => logged.push(JSON.parse(line)) });
  const kafka = {
    log,
    consumerClient(_groupId: string, h: ConsumerClientHooks) {
      hooks = h;
      return client;
    },
  } as unknown as KafkaPort;
  return { kafka, log, logged, seeks, stable };
}

/** A lane consumer over the scripted client, assigned partition 0 from offset 5, checking idle lanes every 20 ms. */
async function startFromOffset5(kafka: KafkaPort, log: Logger) {
  const delivered: string[] = [];
  const consumer = createLaneConsumer(
    kafka,
    { groupId: "g", topics: ["t"], maxBatchSize: 100, partitionConcurrency: 1, onAssign: async (tps) => tps.map((tp) => ({ ...tp, offset: "5" })) },
    log,
    { idleMs: 10, checkMs: 20, afterMs: 50 },
  );
  await consumer.start(async (batch) => {
    for (const r of batch.records) delivered.push(r.offset);
  });
  return { consumer, delivered };
}

describe("the lane consumer acts on a waiting lane", () => {
  test("offsets that hold only transaction markers or aborted records: fetched once more, then the partition moves past them and its owner hears of it", async () => {
    const { kafka, log, logged, seeks } = clientAheadOfTheLane({ markersOnly: true });
    const delivered: string[] = [];
    const moved: string[] = [];
    const consumer = createLaneConsumer(
      kafka,
      {
        groupId: "g",
        topics: ["t"],
        maxBatchSize: 100,
        partitionConcurrency: 1,
        onAssign: async (tps) => tps.map((tp) => ({ ...tp, offset: "5" })),
        onMovedPast: (p) => void moved.push(`${p.topic}:${p.partition}@${p.offset}`),
      },
      log,
      { idleMs: 10, checkMs: 20, afterMs: 60_000 },
    );
    await consumer.start(async (batch) => {
      for (const r of batch.records) delivered.push(r.offset);
    });
    try {
      await waitFor("moved past offsets 5-9", () => moved.length > 0, { timeoutMs: 5_000, intervalMs: 10 });
      expect(moved).toEqual(["t:0@10"]);
      expect(seeks).toEqual(["5"]);
      expect(delivered).toEqual([]);
      expect(logged.find((l) => l.msg === "partition:moved-past")).toMatchObject({ partition: "t:0", nextOffset: "5", to: "10" });
      expect(logged.filter((l) => l.level === "warn")).toEqual([]);
      // Caught up now: nothing more is tried.
      await Bun.sleep(200);
      expect(seeks).toEqual(["5"]);
      expect(moved).toHaveLength(1);
    } finally {
      await consumer.stop();
    }
  });

  test("a partition whose stable end an open transaction upstream holds is not starving: no warning, no seek, and its records come at the commit", async () => {
    const { kafka, log, logged, seeks, stable } = clientAheadOfTheLane({ openTransaction: true });
    const { consumer, delivered } = await startFromOffset5(kafka, log);
    try {
      await waitFor("the open transaction noticed", () => logged.some((l) => l.msg === "partition:waiting-for-transaction"), {
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      await Bun.sleep(200);
      expect(logged.filter((l) => l.level === "warn")).toEqual([]);
      expect(seeks).toEqual([]);
      stable.end = 10;
      await waitFor("offsets 5 to 9 once committed", () => delivered.length === 5, { timeoutMs: 5_000, intervalMs: 10 });
      expect(delivered).toEqual(["5", "6", "7", "8", "9"]);
    } finally {
      await consumer.stop();
    }
  });

  for (const paused of [false, true]) {
    test(
      paused
        ? "a partition the client silently stopped fetching is resumed and fetched from the lane's offset, with a warning"
        : "records the client read for an earlier assignment are fetched again from the lane's offset",
      async () => {
        const { kafka, log, logged, seeks } = clientAheadOfTheLane({ paused });
        const { consumer, delivered } = await startFromOffset5(kafka, log);
        try {
          await waitFor("offsets 5 to 9", () => delivered.length === 5, { timeoutMs: 5_000, intervalMs: 10 });
          expect(delivered).toEqual(["5", "6", "7", "8", "9"]);
          expect(seeks).toEqual(["5"]);
          const said = logged.find((l) => l.msg === (paused ? "partition:starved" : "partition:refetching"));
          expect(said).toMatchObject({ partition: "t:0", nextOffset: "5", highWatermark: "10", fetchPosition: paused ? "5" : "10" });
          // Caught up now: nothing more is tried.
          await Bun.sleep(200);
          expect(seeks).toEqual(["5"]);
        } finally {
          await consumer.stop();
        }
      },
    );
  }
});
