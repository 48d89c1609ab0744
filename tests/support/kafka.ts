import { randomUUID } from "node:crypto";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { createConfluentKafka } from "../../runtime/kafka/confluent.ts";
import type { AdminPort, KafkaPort, OutgoingRecord, ProducerPort } from "../../runtime/kafka/port.ts";
import { createLogger } from "../../runtime/log/logger.ts";
import { testServices } from "./env.ts";

/** Kafka clients for tests, over the same port the engine uses. Close with `close()`. */
export async function testKafka(): Promise<{
  kafka: KafkaPort;
  admin: AdminPort;
  producer: ProducerPort;
  createTopic(prefix: string, partitions?: number, withDeadLetter?: boolean): Promise<string>;
  send(records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}> {
  const kafka = createConfluentKafka(
    { brokers: testServices().brokers.split(","), clientId: "ferry-test", securityProtocol: "plaintext" },
    createLogger({ level: "error" }),
  );
  const admin = await kafka.admin();
  const producer = await kafka.producer();
  const created: string[] = [];
  return {
    kafka,
    admin,
    producer,
    async createTopic(prefix, partitions = 3, withDeadLetter = true) {
      const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
      const spec = (name: string) => ({ topic: name, partitions, replicationFactor: 3, configs: { "min.insync.replicas": "2" } });
      await admin.createTopics(withDeadLetter ? [spec(topic), spec(`${topic}.dlt`)] : [spec(topic)]);
      created.push(topic);
      return topic;
    },
    async send(records) {
      for (let i = 0; i < records.length; i += 5_000) await producer.send(records.slice(i, i + 5_000));
    },
    async close() {
      await producer.stop();
      await deleteTestTopics(admin, created);
      await admin.stop();
    },
  };
}

/**
 * Deletes the topics a test file created and those Ferry made beside them (`<topic>.dlt`, retry
 * topics `<topic>.<handler>.retry.<n>`). Left behind, every run's partitions stay on the shared
 * brokers, whose idle CPU grew past a core after a day (1,233 partitions), slowing every later test
 * and benchmark. Best effort: a cleanup that fails never fails the test.
 */
export async function deleteTestTopics(admin: Pick<AdminPort, "listTopics" | "deleteTopics">, created: readonly string[]): Promise<void> {
  if (created.length === 0) return;
  try {
    const existing = await admin.listTopics();
    const doomed = existing.filter((t) => created.some((c) => t === c || t.startsWith(`${c}.`)));
    if (doomed.length > 0) await admin.deleteTopics(doomed);
  } catch {
    // The cluster may be down on purpose (a fault test); the next clean start wipes it anyway.
  }
}

/**
 * How many members each group has now, as its coordinator sees them. A consumer that left cleanly
 * is gone at once; one that was killed stays a member until its session times out.
 */
export async function groupMembers(groupIds: string[]): Promise<Map<string, number>> {
  const kafka = new KafkaJS.Kafka({
    "bootstrap.servers": testServices().brokers,
    "client.id": "ferry-test-groups",
    kafkaJS: { logLevel: KafkaJS.logLevel.ERROR },
  } as never);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups(groupIds);
    return new Map(groups.map((g) => [g.groupId, g.members.length]));
  } finally {
    await admin.disconnect();
  }
}
