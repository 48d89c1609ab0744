/**
 * The lane consumer against the real cluster: what only a broker can show (rebalances, librdkafka's
 * pause state). Batching and back-pressure themselves are proven in partition-lanes.test.ts.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { testKafka } from "../../tests/support/kafka.ts";
import { waitFor } from "../../tests/support/wait.ts";
import type { ConsumerPort, PartitionBatch } from "../kafka/port.ts";
import { createLaneConsumer } from "./lane-consumer.ts";

let kafka: Awaited<ReturnType<typeof testKafka>>;
beforeAll(async () => {
  kafka = await testKafka();
});
afterAll(async () => {
  await kafka.close();
});

const PARTITIONS = 4;
const PER_PARTITION = 300;

/** The highest offset each partition delivered, per consumer. */
function tracker() {
  const last = new Map<number, number>();
  return {
    last,
    handle(slowMs: number) {
      return async (batch: PartitionBatch) => {
        for (const r of batch.records) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, Number(r.offset)));
        if (slowMs > 0) await Bun.sleep(slowMs);
      };
    },
    delivered: () => [...last.values()].reduce((n, o) => n + o + 1, 0),
  };
}

test("a partition paused for back-pressure when it was revoked fetches again when it comes back", async () => {
  const topic = await kafka.createTopic("lanes-rebalance", PARTITIONS, false);
  const records = [];
  for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < PER_PARTITION; i++) records.push({ topic, partition: p, key: null, value: `v${i}` });
  await kafka.send(records);
  const groupId = `lanes-${randomUUID().slice(0, 8)}`;
  // Small batches and a slow handler: every lane is at capacity, so its partition is paused in
  // librdkafka most of the time, also at the moment the second member takes it away.
  const options = { groupId, topics: [topic], maxBatchSize: 5, partitionConcurrency: PARTITIONS };
  const a = createLaneConsumer(kafka.kafka, options);
  const seenByA = tracker();
  const consumers: ConsumerPort[] = [a];
  try {
    await a.start(seenByA.handle(40));
    await waitFor("A delivering every partition", async () => seenByA.last.size === PARTITIONS, { timeoutMs: 60_000, intervalMs: 20 });
    const b = createLaneConsumer(kafka.kafka, options);
    consumers.push(b);
    const seenByB = tracker();
    await b.start(seenByB.handle(40));
    await waitFor("B delivering", async () => seenByB.last.size > 0, { timeoutMs: 60_000, intervalMs: 20 });
    expect(a.assignment().length).toBeLessThan(PARTITIONS);
    await b.stop();
    // Nothing is committed: A takes B's partitions back and reads them to the end.
    await waitFor(
      "A at the end of every partition",
      async () => seenByA.last.size === PARTITIONS && [...seenByA.last.values()].every((o) => o === PER_PARTITION - 1),
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    expect(a.assignment()).toHaveLength(PARTITIONS);
  } finally {
    for (const c of consumers) await c.stop();
  }
}, 120_000);
