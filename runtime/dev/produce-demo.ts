/**
 * `ferry produce --demo`: sends the demo stream to a running `ferry dev` (found through its
 * dev.json) or to the brokers and registry given, one event at a time, saying what each one is
 * and what Ferry should do with it.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { loadProduceConfig } from "../config/load-tools.ts";
import { createConfluentKafka } from "../kafka/confluent.ts";
import { createLogger } from "../log/logger.ts";
import { createAvroProducer } from "../produce/avro-producer.ts";
import { connectRegistry } from "../registry/connect.ts";
import { loadSchemaFile } from "../schemas/catalog.ts";
import { demoStream, expectedEnd } from "./demo-stream.ts";
import { readDevState } from "./state-file.ts";

export interface DemoOptions {
  dataDir: string;
  schemasDir: string;
  paceMs: number;
}

export async function produceDemo(source: Record<string, string | undefined>, { dataDir, schemasDir, paceMs }: DemoOptions): Promise<number> {
  let settings = { ...source };
  let target = "the brokers given";
  if (!settings.FERRY_KAFKA_BROKERS) {
    const dev = await readDevState(dataDir);
    settings = { ...settings, FERRY_KAFKA_BROKERS: dev.brokers.join(","), FERRY_SCHEMA_REGISTRY_URL: settings.FERRY_SCHEMA_REGISTRY_URL ?? dev.registryUrl };
    target = `ferry dev (pid ${dev.pid}, ${path.join(dataDir, "dev.json")})`;
  }
  const config = loadProduceConfig({
    FERRY_PRODUCE_TOPIC: "orders",
    FERRY_PRODUCE_SCHEMA: path.join(schemasDir, "order-placed.avsc"),
    ...settings,
  });
  const json = config.format === "json";
  const schema = await loadSchemaFile(config.schemaFile);
  const items = demoStream(randomBytes(3).toString("hex"));
  const expected = expectedEnd(items);
  const producer = await createConfluentKafka(config.kafka, createLogger({ level: "error" })).producer();
  try {
    const avro = createAvroProducer({
      producer,
      registry: connectRegistry(config.registry),
      strategy: config.strategy,
      eventIdHeader: config.eventIdHeader,
      autoRegister: config.autoRegister,
    });
    if (!json) console.log(`Sending ${items.length} events to topic ${config.topic} via ${target}:`);
    const width = String(items.length).length;
    for (const [i, item] of items.entries()) {
      if (Buffer.isBuffer(item.value)) {
        await producer.send([{ topic: config.topic, key: item.key, value: item.value, headers: { [config.eventIdHeader]: item.eventId } }]);
      } else {
        await avro.send(config.topic, schema, [{ value: item.value, key: item.key, eventId: item.eventId }]);
      }
      if (!json) console.log(`  [${String(i + 1).padStart(width)}/${items.length}] ${item.label.padEnd(62)} → ${item.expect}`);
      if (paceMs > 0 && i < items.length - 1) await Bun.sleep(paceMs);
    }
  } finally {
    await producer.stop();
  }
  const letters = Object.entries(expected.deadLetters)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");
  const total = Object.values(expected.deadLetters).reduce((a, b) => a + b, 0);
  if (json) console.log(JSON.stringify({ topic: config.topic, produced: items.length, expected }));
  else {
    console.log(`
Expected once the example handler (handlers/order-totals.ts) has consumed them:
  ${expected.applied} orders applied to the order_totals table
  ${expected.technicalDuplicates} technical duplicates skipped (event id already in the inbox)
  ${total} dead letters in ${config.topic}.dlt (${letters})
Watch the tally in the ferry dev window, or the admin page it prints.`);
  }
  return 0;
}
