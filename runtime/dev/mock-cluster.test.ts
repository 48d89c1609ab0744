import { afterAll, expect, test } from "bun:test";
import { createConfluentKafka } from "../kafka/confluent.ts";
import { createLogger } from "../log/logger.ts";
import { startMockCluster } from "./mock-cluster.ts";
import { mockClusterKafka } from "./mock-kafka.ts";

const cluster = await startMockCluster({ brokers: 3 });
afterAll(() => cluster.stop());
const kafka = mockClusterKafka(
  createConfluentKafka({ brokers: cluster.bootstrap, clientId: "mock-test", securityProtocol: "plaintext" }, createLogger({ level: "error" })),
  cluster,
);

test("the mock cluster's brokers listen on loopback ports any client can use", () => {
  expect(cluster.bootstrap).toHaveLength(3);
  for (const broker of cluster.bootstrap) expect(broker).toMatch(/^127\.0\.0\.1:\d+$/);
});

test("the dev admin port creates what the engine asks about (auto-create, 4 partitions) and reads offsets from metadata", async () => {
  const admin = await kafka.admin();
  try {
    // What ensureDeadLetterTopics does at start: partition counts of the topics and their dead letter topics.
    const counts = await admin.partitionCounts(["orders-t1", "orders-t1.dlt"]);
    expect([...counts]).toEqual([
      ["orders-t1", 4],
      ["orders-t1.dlt", 4],
    ]);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(["orders-t1", "orders-t1.dlt"]));
    await admin.createTopics([{ topic: "created-t1", partitions: 2, replicationFactor: 3 }]); // the mock has no CreateTopics
    expect((await admin.partitionCounts(["created-t1"])).get("created-t1")).toBe(4);

    const producer = await kafka.producer();
    await producer.send([
      { topic: "orders-t1", key: "k", value: "v", partition: 1 },
      { topic: "orders-t1", key: "k", value: "w", partition: 1 },
    ]);
    await producer.stop();
    expect(await admin.fetchTopicOffsets("orders-t1")).toEqual([
      { partition: 0, low: "0", high: "0" },
      { partition: 1, low: "0", high: "2" },
      { partition: 2, low: "0", high: "0" },
      { partition: 3, low: "0", high: "0" },
    ]);
  } finally {
    await admin.stop();
  }
});
