/**
 * The Kafka port of `ferry dev`: Ferry's own librdkafka port pointed at the mock cluster, with
 * the admin calls the mock does not implement answered from broker metadata instead. Consumer,
 * producer and the remaining admin calls are production's, unchanged.
 */
import type { AdminPort, KafkaPort } from "../kafka/port.ts";
import type { MockCluster } from "./mock-cluster.ts";

export function mockClusterKafka(base: KafkaPort, cluster: MockCluster): KafkaPort {
  return {
    ...(base.log ? { log: base.log } : {}),
    consumerClient: (groupId, hooks) => base.consumerClient(groupId, hooks),
    producer: () => base.producer(),
    async admin(): Promise<AdminPort> {
      const admin = await base.admin();
      return {
        ...admin,
        // No CreateTopics on the mock: auto-creation makes them (4 partitions, whatever was asked).
        createTopics: (topics) => cluster.ensureTopics(topics.map((t) => t.topic)),
        listTopics: () => cluster.topics(),
        // As on a development broker with auto.create.topics.enable: every topic the worker looks
        // up (its handlers' topics and their dead letter topics) exists from then on.
        async partitionCounts(topics) {
          await cluster.ensureTopics(topics);
          return cluster.partitionCounts(topics);
        },
        fetchTopicOffsets: (topic) => cluster.watermarks(topic),
        stop: () => admin.stop(),
      };
    },
  };
}
