// The KafkaJS-style consumer under Bun, against the real cluster: the paths
// Ferry's engine uses (eachBatch with autoCommit off, explicit commits, pause/
// resume, seek, cooperative rebalancing, committed offsets and lag).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { uniqueName, useKafkaTestClients, waitFor } from "./test-cluster.ts";

setDefaultTimeout(60_000);
const { kafka, admin, clients, createTopic } = useKafkaTestClients();

// librdkafka's error codes for the two rebalance events.
const ERR__ASSIGN_PARTITIONS = -175;
const ERR__REVOKE_PARTITIONS = -174;

interface Batch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: Array<{ offset: string; key: Buffer | null; value: Buffer | null }>;
  offsetLag(): string;
}

/** Produces `perPartition` messages to each partition, values "p<partition>-<i>". */
async function fill(topic: string, partitions: number, perPartition: number): Promise<void> {
  const producer = clients.add(kafka.producer({ "enable.idempotence": true, acks: -1 }));
  await producer.connect();
  const messages = [];
  for (let p = 0; p < partitions; p++) {
    for (let i = 0; i < perPartition; i++) messages.push({ partition: p, key: `k${i}`, value: `p${p}-${i}` });
  }
  await producer.send({ topic, messages });
  await clients.close(producer);
}

function newConsumer(groupId: string, extra: Record<string, unknown> = {}) {
  return clients.add(kafka.consumer({ kafkaJS: { groupId, fromBeginning: true, autoCommit: false }, ...extra }));
}

describe("eachBatch with autoCommit off", () => {
  test("commitOffsets commits exactly what it is given; admin.fetchOffsets and committed() read it back", async () => {
    const topic = await createTopic(3);
    await fill(topic, 3, 10);
    const groupId = uniqueName();
    const consumer = newConsumer(groupId);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const seen = new Map<number, string[]>();
    await consumer.run({
      eachBatch: async ({ batch }: { batch: Batch }) => {
        const values = seen.get(batch.partition) ?? [];
        values.push(...batch.messages.map((m) => String(m.value)));
        seen.set(batch.partition, values);
        const last = batch.messages.at(-1);
        if (!last) return;
        // The committed offset is the NEXT offset to read, as in Kafka.
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
      },
    });
    await waitFor("30 messages", () => [...seen.values()].flat().length >= 30);
    expect(seen.get(1)).toEqual(Array.from({ length: 10 }, (_, i) => `p1-${i}`)); // in order per partition

    const committedFor = async () => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return entry?.partitions.every((p: { offset: string }) => p.offset === "10") ? entry : undefined;
    };
    const fetched = await waitFor("committed offsets 10/10/10 via admin.fetchOffsets", committedFor);
    expect(fetched.topic).toBe(topic);
    const viaConsumer = await consumer.committed([0, 1, 2].map((partition) => ({ topic, partition })));
    expect(viaConsumer.map((o: { offset: string }) => o.offset)).toEqual(["10", "10", "10"]);

    // Lag = high watermark - committed offset; all read, so 0 everywhere.
    const watermarks = await admin.fetchTopicOffsets(topic);
    expect(watermarks.map((w: { high: string }) => w.high)).toEqual(["10", "10", "10"]);
    await clients.close(consumer);
  });

  test("eachBatch only stores offsets; commitOffsets() with no argument commits what was stored", async () => {
    const topic = await createTopic(1);
    await fill(topic, 1, 5);
    const groupId = uniqueName();
    const consumer = newConsumer(groupId);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    let count = 0;
    await consumer.run({ eachBatch: async ({ batch }: { batch: Batch }) => void (count += batch.messages.length) });
    await waitFor("5 messages", () => count >= 5);
    // By topic name, fetchOffsets lists only partitions that have a commit;
    // by explicit partition, an uncommitted one reads as "-1001" (OFFSET_INVALID).
    expect(await admin.fetchOffsets({ groupId, topics: [topic] })).toEqual([]);
    const [uncommitted] = await admin.fetchOffsets({ groupId, topics: [{ topic, partitions: [0] }] });
    expect(uncommitted.partitions).toEqual([expect.objectContaining({ partition: 0, offset: "-1001" })]);

    await consumer.commitOffsets();
    await waitFor("offset 5 committed", async () => {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return entry?.partitions[0]?.offset === "5";
    });
    await clients.close(consumer);
  });

  test("commitOffsets resolves once the commit is queued; 'offset.commit' carries the broker's answer", async () => {
    // 1.10.1 calls librdkafka's commitAsync and resolves right away: neither
    // durability nor errors reach the promise. The internal client's
    // 'offset.commit' event (offset_commit_cb) reports both.
    const topic = await createTopic(1);
    const consumer = newConsumer(uniqueName());
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachBatch: async () => {} });
    await waitFor("the partition to be assigned", () => consumer.assignment().length === 1);
    const results: Array<{ code: number | null; offsets: Array<{ topic: string; offset: number }> }> = [];
    consumer._getInternalClient().on("offset.commit", (err: { code: number } | null, offsets: never[]) => {
      results.push({ code: err ? err.code : null, offsets });
    });

    await consumer.commitOffsets([{ topic, partition: 0, offset: "0" }]);
    const missing = uniqueName();
    // Resolves although the broker will refuse it.
    await consumer.commitOffsets([{ topic: missing, partition: 0, offset: "1" }]);
    await waitFor("both commit results", () => results.length >= 2);
    expect(results).toEqual([
      { code: null, offsets: [expect.objectContaining({ topic, partition: 0, offset: 0 })] },
      { code: 3, offsets: [expect.objectContaining({ topic: missing, partition: 0, offset: 1 })] }, // UNKNOWN_TOPIC_OR_PART
    ]);
    await clients.close(consumer);
  });

  test("a batch holds one partition's consecutive messages, at most js.consumer.max.batch.size", async () => {
    const topic = await createTopic(2);
    await fill(topic, 2, 40);
    const consumer = newConsumer(uniqueName(), { "js.consumer.max.batch.size": 7 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const batches: Batch[] = [];
    await consumer.run({ eachBatch: async ({ batch }: { batch: Batch }) => void batches.push(batch) });
    await waitFor("80 messages", () => batches.reduce((n, b) => n + b.messages.length, 0) >= 80);
    for (const b of batches) {
      expect(b.messages.length).toBeGreaterThan(0);
      expect(b.messages.length).toBeLessThanOrEqual(7);
      const offsets = b.messages.map((m) => Number(m.offset));
      expect(offsets).toEqual(offsets.map((_, i) => (offsets[0] ?? 0) + i));
      expect(b.highWatermark).toBe("40");
      expect(Number(b.offsetLag())).toBe(40 - 1 - (offsets.at(-1) ?? 0));
    }
    await clients.close(consumer);
  });

  test("partitionsConsumedConcurrently runs different partitions at once, never one partition twice", async () => {
    const topic = await createTopic(3);
    await fill(topic, 3, 100);
    const consumer = newConsumer(uniqueName());
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const inFlight = new Map<number, number>();
    let maxConcurrent = 0;
    let maxSamePartition = 0;
    let total = 0;
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }: { batch: Batch }) => {
        inFlight.set(batch.partition, (inFlight.get(batch.partition) ?? 0) + 1);
        maxSamePartition = Math.max(maxSamePartition, inFlight.get(batch.partition) ?? 0);
        maxConcurrent = Math.max(
          maxConcurrent,
          [...inFlight.values()].reduce((a, b) => a + b, 0),
        );
        // Hold the batch until another one runs alongside, for at most 250 ms: the
        // consumer starts with one worker and a one-message cache, so the first
        // batches (one partition) run alone until the cache has grown.
        await waitFor("a concurrent batch", () => maxConcurrent >= 2, 250).catch(() => {});
        total += batch.messages.length;
        inFlight.set(batch.partition, (inFlight.get(batch.partition) ?? 1) - 1);
      },
    });
    await waitFor("300 messages", () => total >= 300);
    expect(maxConcurrent).toBeGreaterThanOrEqual(2);
    expect(maxSamePartition).toBe(1);
    await clients.close(consumer);
  });
});

describe("memory", () => {
  test("delivered messages are garbage once the batch is done: nothing keeps them (Bun's DisposeGlobal is wrapped)", async () => {
    const topic = await createTopic(2);
    await fill(topic, 2, 200);
    const consumer = newConsumer(uniqueName(), { "js.consumer.max.batch.size": 50 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const values: WeakRef<Buffer>[] = [];
    await consumer.run({
      eachBatch: async ({ batch }: { batch: Batch }) => {
        for (const m of batch.messages) if (m.value) values.push(new WeakRef(m.value));
      },
    });
    await waitFor("400 messages", () => values.length === 400);
    await clients.close(consumer);
    const alive = () => values.filter((r) => r.deref() !== undefined).length;
    for (let i = 0; i < 10 && alive() > 0; i++) {
      Bun.gc(true);
      await Bun.sleep(50);
    }
    // Before the wrap every message stayed reachable from the callback of its consume() call.
    expect(alive()).toBe(0);
  });
});

describe("flow control", () => {
  test("pause stops one partition, resume restarts it; paused() reports it", async () => {
    const topic = await createTopic(2);
    const consumer = newConsumer(uniqueName());
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const seen: Array<{ partition: number; value: string }> = [];
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: { value: Buffer } }) =>
        void seen.push({ partition, value: String(message.value) }),
    });
    await waitFor("both partitions assigned", () => consumer.assignment().length === 2);
    consumer.pause([{ topic, partitions: [0] }]);
    expect(consumer.paused()).toEqual([{ topic, partitions: [0] }]);

    await fill(topic, 2, 3);
    await waitFor("partition 1's messages", () => seen.filter((s) => s.partition === 1).length === 3);
    expect(seen.filter((s) => s.partition === 0)).toEqual([]);

    consumer.resume([{ topic, partitions: [0] }]);
    expect(consumer.paused()).toEqual([]);
    await waitFor("partition 0's messages after resume", () => seen.filter((s) => s.partition === 0).length === 3);
    await clients.close(consumer);
  });

  test("seek re-delivers from the given offset", async () => {
    const topic = await createTopic(1);
    await fill(topic, 1, 5);
    const consumer = newConsumer(uniqueName());
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const offsets: string[] = [];
    await consumer.run({ eachMessage: async ({ message }: { message: { offset: string } }) => void offsets.push(message.offset) });
    await waitFor("5 messages", () => offsets.length >= 5);
    consumer.seek({ topic, partition: 0, offset: "2" });
    await waitFor("offsets 2..4 again", () => offsets.length >= 8);
    expect(offsets).toEqual(["0", "1", "2", "3", "4", "2", "3", "4"]);
    await clients.close(consumer);
  });
});

describe("rebalancing", () => {
  test("a second member of a cooperative-sticky group takes partitions; rebalance_cb sees both events", async () => {
    const topic = await createTopic(4);
    const groupId = uniqueName();
    const events = { a: [] as Array<[number, number[]]>, b: [] as Array<[number, number[]]> };
    const member = (name: "a" | "b") =>
      newConsumer(groupId, {
        "partition.assignment.strategy": "cooperative-sticky",
        rebalance_cb: (err: { code: number }, assignment: Array<{ partition: number }>) => {
          events[name].push([err.code, assignment.map((p) => p.partition).sort()]);
        },
      });
    const a = member("a");
    await a.connect();
    await a.subscribe({ topics: [topic] });
    await a.run({ eachMessage: async () => {} });
    await waitFor("a to own all 4 partitions", () => a.assignment().length === 4);
    expect(a._getInternalClient().rebalanceProtocol()).toBe("COOPERATIVE");

    const b = member("b");
    await b.connect();
    await b.subscribe({ topics: [topic] });
    await b.run({ eachMessage: async () => {} });
    const owned = await waitFor("both members to own partitions", () => {
      const pa = a.assignment().map((p: { partition: number }) => p.partition);
      const pb = b.assignment().map((p: { partition: number }) => p.partition);
      return pa.length > 0 && pb.length > 0 && pa.length + pb.length === 4 ? { pa, pb } : undefined;
    });
    expect(new Set([...owned.pa, ...owned.pb]).size).toBe(4);
    // Cooperative: a gives up only what b receives, in a REVOKE of just those partitions.
    expect(events.a[0]).toEqual([ERR__ASSIGN_PARTITIONS, [0, 1, 2, 3]]);
    expect(events.a.some(([code, ps]) => code === ERR__REVOKE_PARTITIONS && ps.length === owned.pb.length)).toBe(true);
    expect(events.b.some(([code]) => code === ERR__ASSIGN_PARTITIONS)).toBe(true);

    await clients.close(b);
    await waitFor("a to own all 4 partitions again", () => a.assignment().length === 4);
    await clients.close(a);
  });

  test("rebalance_cb can return the assignment with start offsets (resume from an external store)", async () => {
    const topic = await createTopic(2);
    await fill(topic, 2, 10);
    const consumer = newConsumer(uniqueName(), {
      "partition.assignment.strategy": "cooperative-sticky",
      rebalance_cb: async (err: { code: number }, assignment: Array<{ topic: string; partition: number }>) => {
        // On ASSIGN, a returned array replaces the assignment; offsets in it win
        // over committed offsets and auto.offset.reset.
        if (err.code === ERR__ASSIGN_PARTITIONS) return assignment.map((tp) => ({ ...tp, offset: 7 - tp.partition }));
      },
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const seen: string[] = [];
    await consumer.run({
      eachBatch: async ({ batch }: { batch: Batch }) => void seen.push(...batch.messages.map((m) => `${batch.partition}@${m.offset}`)),
    });
    await waitFor("the tails of both partitions", () => seen.length >= 3 + 4);
    expect(seen.sort()).toEqual(["0@7", "0@8", "0@9", "1@6", "1@7", "1@8", "1@9"]);
    await clients.close(consumer);
  });
});
