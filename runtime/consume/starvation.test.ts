import { describe, expect, test } from "bun:test";
import { waitFor } from "../../tests/support/wait.ts";
import type { ConsumerClient, ConsumerClientHooks, KafkaPort } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { createLaneConsumer } from "./lane-consumer.ts";
import { refetchKey, starvationRemedy } from "./starvation.ts";

describe("starvationRemedy", () => {
  test("the client short of the end: resume and fetch from the lane's offset", () => {
    expect(starvationRemedy({ nextOffset: "3", highWatermark: "10", fetchPosition: "3", lastRefetch: undefined })).toEqual({ action: "resume", seekTo: "3" });
    expect(starvationRemedy({ nextOffset: "3", highWatermark: "10", fetchPosition: "-1", lastRefetch: undefined })).toEqual({ action: "resume", seekTo: "3" });
  });

  test("an end the client never saw is no reason to wait: it is not fetching the partition", () => {
    expect(starvationRemedy({ nextOffset: "3", highWatermark: "unknown", fetchPosition: "-1", lastRefetch: undefined })).toEqual({
      action: "resume",
      seekTo: "3",
    });
  });

  test("the client at the end and the lane not: fetch once more from the lane's offset, once per offset and end", () => {
    const lane = { nextOffset: "3", highWatermark: "10", fetchPosition: "10", lastRefetch: undefined };
    expect(starvationRemedy(lane)).toEqual({ action: "refetch", seekTo: "3" });
    expect(starvationRemedy({ ...lane, lastRefetch: refetchKey(lane) })).toEqual({ action: "none" });
    // The partition grew, or the lane moved: a new question, asked once.
    expect(starvationRemedy({ ...lane, highWatermark: "12", fetchPosition: "12", lastRefetch: refetchKey(lane) })).toEqual({ action: "refetch", seekTo: "3" });
    expect(starvationRemedy({ ...lane, nextOffset: "5", lastRefetch: refetchKey(lane) })).toEqual({ action: "refetch", seekTo: "5" });
  });
});

/**
 * A client that read partition 0 up to its end (10) for an earlier assignment and, assigned it again
 * from offset 5, goes on from 10: nothing more comes unless the lane consumer fetches from 5 again.
 */
function clientAheadOfTheLane(options: { paused: boolean }) {
  let hooks: ConsumerClientHooks | undefined;
  let position = options.paused ? 5 : 10;
  let paused = options.paused;
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
      if (paused || position >= 10) return { records: [], failure: null };
      const records = Array.from({ length: 10 - position }, (_, i) => ({
        topic: "t",
        partition: 0,
        offset: String(position + i),
        key: null,
        value: Buffer.from("v"),
        headers: {},
        timestamp: 0,
      }));
      position = 10;
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
  return { kafka, log, logged, seeks };
}

describe("the lane consumer acts on a starving lane", () => {
  for (const paused of [false, true]) {
    test(
      paused
        ? "a partition the client silently stopped fetching is resumed and fetched from the lane's offset, with a warning"
        : "records the client read for an earlier assignment are fetched again from the lane's offset",
      async () => {
        const { kafka, log, logged, seeks } = clientAheadOfTheLane({ paused });
        const delivered: string[] = [];
        const consumer = createLaneConsumer(
          kafka,
          { groupId: "g", topics: ["t"], maxBatchSize: 100, partitionConcurrency: 1, onAssign: async (tps) => tps.map((tp) => ({ ...tp, offset: "5" })) },
          log,
          { afterMs: 50, checkMs: 20 },
        );
        await consumer.start(async (batch) => {
          for (const r of batch.records) delivered.push(r.offset);
        });
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
