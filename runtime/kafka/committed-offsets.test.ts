/**
 * A group's committed offsets, read through the admin port. librdkafka's ListConsumerGroupOffsets
 * (the client's admin.fetchOffsets) crashed the test runner with SIGSEGV on a first contact with a
 * new group (its coordinator answered NOT_COORDINATOR: confluent-kafka-javascript#374); the port
 * asks through a consumer of the group instead, which never joins it.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { testKafka } from "../../tests/support/kafka.ts";

const kafka = await testKafka();
afterAll(() => kafka.close());

test("groups never seen before read -1 for every partition, many of them at once", async () => {
  const topic = await kafka.createTopic("committed", 3, false);
  const groups = Array.from({ length: 12 }, () => `committed-${randomUUID().slice(0, 8)}`);
  const read = await Promise.all(groups.map((g) => kafka.admin.fetchCommittedOffsets(g, topic)));
  for (const offsets of read)
    expect(offsets.toSorted((a, b) => a.partition - b.partition)).toEqual([0, 1, 2].map((partition) => ({ partition, offset: "-1" })));
});
