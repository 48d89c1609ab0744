/**
 * `ferry dev`'s broker: librdkafka's built-in mock cluster. A client created with
 * `test.mock.num.brokers` hosts in-memory brokers on loopback ports for as long as it lives; any
 * Kafka client (Ferry's own, `ferry produce`, kcat) connects to them like to a real cluster.
 *
 * What the mock lacks shapes the wiring here: no CreateTopics (topics are auto-created, 4
 * partitions, when a producer asks for their metadata), no DescribeTopicPartitions (the
 * KafkaJS-style admin's fetchTopicMetadata and fetchTopicOffsets time out), no configs, ACLs or
 * SASL, and it waits a whole session timeout before rebalancing after a member leaves.
 */
import Kafka from "@confluentinc/kafka-javascript";

/** The node-rdkafka-style client surface used here (the package types it loosely). */
interface RdClient {
  connect(options: object, cb: (e: Error | null) => void): void;
  disconnect(cb: () => void): void;
  getMetadata(options: { topic?: string; timeout: number }, cb: (e: Error | null, m: RdMetadata) => void): void;
  queryWatermarkOffsets(topic: string, partition: number, timeout: number, cb: (e: Error | null, o: { lowOffset: number; highOffset: number }) => void): void;
}
interface RdMetadata {
  brokers: Array<{ host: string; port: number }>;
  topics: Array<{ name: string; partitions: Array<{ id: number }> }>;
}

export interface MockCluster {
  /** host:port of every mock broker. */
  bootstrap: string[];
  /** Creates the topics that do not exist yet (the mock's auto-create: 4 partitions each). */
  ensureTopics(topics: string[]): Promise<void>;
  /** Partition count of each existing topic among `topics`. */
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  topics(): Promise<string[]>;
  watermarks(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  stop(): Promise<void>;
}

// Generous: on a loaded machine the mock answers a metadata request (and creates a topic) slowly.
const timeout = 15_000;

export async function startMockCluster({ brokers = 3 }: { brokers?: number } = {}): Promise<MockCluster> {
  const Producer = (Kafka as unknown as { Producer: new (config: object) => RdClient }).Producer;
  const host = new Producer({ "test.mock.num.brokers": brokers, "client.id": "ferry-dev-mock-cluster" });
  await new Promise<void>((resolve, reject) => host.connect({}, (e) => (e ? reject(e) : resolve())));
  const metadata = (topic?: string) =>
    new Promise<RdMetadata>((resolve, reject) => host.getMetadata({ timeout, ...(topic ? { topic } : {}) }, (e, m) => (e ? reject(e) : resolve(m))));
  const all = async () => new Map((await metadata()).topics.map((t) => [t.name, t.partitions.length]));
  const bootstrap = (await metadata()).brokers.map((b) => `${b.host}:${b.port}`);

  return {
    bootstrap,
    async ensureTopics(topics) {
      // A producer's metadata request for a topic the mock does not know creates it, but a listing
      // right after may not show it yet (seen once in CI on a loaded machine): asked again until it does.
      const deadline = Date.now() + timeout;
      let missing = topics;
      for (;;) {
        for (const topic of missing) await metadata(topic);
        const existing = await all();
        missing = topics.filter((t) => !existing.has(t));
        if (missing.length === 0) return;
        if (Date.now() > deadline) throw new Error(`the mock cluster did not create topic(s) ${missing.join(", ")} within ${timeout} ms`);
        await Bun.sleep(100);
      }
    },
    async partitionCounts(topics) {
      const counts = await all();
      return new Map(topics.filter((t) => counts.has(t)).map((t) => [t, counts.get(t)!]));
    },
    topics: async () => [...(await all()).keys()].filter((t) => !t.startsWith("__")),
    async watermarks(topic) {
      const count = (await all()).get(topic) ?? 0;
      return Promise.all(
        Array.from(
          { length: count },
          (_, partition) =>
            new Promise<{ partition: number; low: string; high: string }>((resolve, reject) =>
              host.queryWatermarkOffsets(topic, partition, timeout, (e, o) =>
                e ? reject(e) : resolve({ partition, low: String(o.lowOffset), high: String(o.highOffset) }),
              ),
            ),
        ),
      );
    },
    stop: () => new Promise<void>((resolve) => host.disconnect(() => resolve())),
  };
}
