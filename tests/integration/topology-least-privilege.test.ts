// After `ferry topology apply`, a service's principal can do exactly what the file (and its
// handlers) declare, proved with real clients over SASL with ACLs enforced: the same Kafka port
// the engine uses (librdkafka, idempotent producer, consumer groups).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createConfluentKafka } from "../../runtime/kafka/confluent.ts";
import type { ConsumerPort, KafkaPort, PartitionBatch } from "../../runtime/kafka/port.ts";
import { createLogger } from "../../runtime/log/logger.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { testKafka } from "../support/kafka.ts";
import { aliceTotalsService, saslConnection, testTopology } from "../support/topology.ts";
import { waitFor } from "../support/wait.ts";
import { createLaneConsumer } from "../../runtime/consume/lane-consumer.ts";

const t = testTopology();
const p = t.prefix;
const file = `
topics:
  ${p}.orders: { partitions: 2 }
  ${p}.totals: { partitions: 2 }
  ${p}.audit: { partitions: 1 }
${aliceTotalsService(p)}`;
// The handler runs as the same service: --handlers adds its dead letter topic and group.
const handlersDir = writeHandlersDir({
  "order-worker.ts": `export default { topic: ${JSON.stringify(`${p}.orders`)}, async handle() {} };\n`,
});

/** Kafka as alice, with her client's log lines kept: denials surface there for consumers. */
function asAlice() {
  const lines: string[] = [];
  const kafka = createConfluentKafka(saslConnection("alice"), createLogger({ level: "debug", sink: (l) => lines.push(l) }));
  return { kafka, lines };
}

const consumers: ConsumerPort[] = [];
async function consume(kafka: KafkaPort, topic: string, groupId: string) {
  const batches: PartitionBatch[] = [];
  const consumer = createLaneConsumer(kafka, { groupId, topics: [topic], maxBatchSize: 10, partitionConcurrency: 1 });
  consumers.push(consumer);
  await consumer.start(async (batch) => void batches.push(batch));
  return batches;
}

const denied = (lines: string[], what: RegExp) => () => lines.some((l) => /authorization failed/i.test(l) && what.test(l));

beforeAll(async () => {
  const plan = await t.apply(file, { handlersDir });
  expect(plan.changes.filter((c) => c.action === "create-topic").map((c) => ("topic" in c ? c.topic : ""))).toContain(`${p}.orders.dlt`);
  const plaintext = await testKafka(); // ANONYMOUS is a super user on the PLAINTEXT listener
  await plaintext.send([
    { topic: `${p}.orders`, key: "k", value: JSON.stringify({ n: 1 }), headers: { "event-id": `${p}-1` } },
    { topic: `${p}.totals`, key: "k", value: "{}" },
  ]);
  await plaintext.close();
});

afterAll(async () => {
  await Promise.allSettled(consumers.map((c) => c.stop()));
  await t.cleanup();
});

describe("least privilege after apply, with real clients as alice", () => {
  test("produces to what she declared (idempotent producer, no cluster-wide grant needed) and to her handler's dead letter topic", async () => {
    const { kafka } = asAlice();
    const producer = await kafka.producer();
    try {
      const sent = await producer.send([
        { topic: `${p}.totals`, value: "ok" },
        { topic: `${p}.orders.dlt`, value: "dead letter" },
      ]);
      expect(sent.map((s) => s.topic).sort()).toEqual([`${p}.orders.dlt`, `${p}.totals`]);
    } finally {
      await producer.stop();
    }
  });

  test.each([
    ["a topic she only consumes", "orders"],
    ["a topic she does not use", "audit"],
  ])("is denied producing to %s", async (_what, topic) => {
    const { kafka } = asAlice();
    const producer = await kafka.producer();
    try {
      const error = await producer.send([{ topic: `${p}.${topic}`, value: "no" }]).catch((e: Error) => e);
      expect(String(error)).toMatch(/authoriz/i);
    } finally {
      await producer.stop();
    }
  });

  test("consumes what she declared, with her declared group and with her handler's group", async () => {
    const { kafka } = asAlice();
    const declared = await consume(kafka, `${p}.orders`, `${p}.totals`);
    const handlerGroup = await consume(kafka, `${p}.orders`, `${p}.order-worker`);
    await waitFor("alice's declared group to receive the event", () => declared.length > 0, { timeoutMs: 30_000 });
    await waitFor("the handler's group to receive the event", () => handlerGroup.length > 0, { timeoutMs: 30_000 });
    expect(declared[0]!.records[0]!.headers["event-id"]?.toString()).toBe(`${p}-1`);
  });

  test("is denied a group she did not declare, and a topic she does not consume", async () => {
    const otherGroup = asAlice();
    const otherTopic = asAlice();
    const viaOtherGroup = await consume(otherGroup.kafka, `${p}.orders`, `${p}.someone-else`);
    const fromTotals = await consume(otherTopic.kafka, `${p}.totals`, `${p}.totals`);
    await waitFor("a group authorization failure", denied(otherGroup.lines, /group/i), { timeoutMs: 30_000 });
    await waitFor("a topic authorization failure", denied(otherTopic.lines, /topic/i), { timeoutMs: 30_000 });
    expect(viaOtherGroup).toEqual([]);
    expect(fromTotals).toEqual([]);
  });
});
