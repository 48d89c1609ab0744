/**
 * `ferry produce`: JSON lines in (stdin or a file), Avro out to a topic, with the event-id header
 * set (a UUID when the line has none), the key set, acks=all and idempotence on.
 */
import { loadProduceConfig } from "../config/load-tools.ts";
import { loadDevConfig } from "../config/load-dev.ts";
import { produceDemo } from "../dev/produce-demo.ts";
import { connectAvroProducer } from "../produce/connect.ts";
import { parseJsonLines } from "../produce/json-lines.ts";
import { loadSchemaFile } from "../schemas/catalog.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { produceUsage } from "./usage.ts";

const produceFlags: FlagMap = {
  topic: { env: "FERRY_PRODUCE_TOPIC", short: "t" },
  schema: { env: "FERRY_PRODUCE_SCHEMA", short: "s" },
  "key-field": { env: "FERRY_PRODUCE_KEY_FIELD", short: "k" },
  input: { env: "FERRY_PRODUCE_INPUT", short: "i" },
  envelope: { env: "FERRY_PRODUCE_ENVELOPE", value: "true" },
  brokers: { env: "FERRY_KAFKA_BROKERS" },
  "registry-url": { env: "FERRY_SCHEMA_REGISTRY_URL" },
  "subject-strategy": { env: "FERRY_SCHEMA_SUBJECT_STRATEGY" },
  "auto-register": { env: "FERRY_PRODUCE_AUTO_REGISTER", value: "true" },
  json: { env: "FERRY_PRODUCE_FORMAT", value: "json" },
  demo: { env: "FERRY_PRODUCE_DEMO", value: "true" },
  "data-dir": { env: "FERRY_DEV_DATA_DIR" },
  schemas: { env: "FERRY_SCHEMAS_DIR" },
};

/** Sent in slices so a large file does not sit in memory as one batch of Kafka messages. */
const sliceSize = 1_000;

export async function produceCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help } = parseFlags("produce", args, produceFlags, env);
  if (help) {
    console.log(produceUsage);
    return 0;
  }
  const dev = loadDevConfig(settings);
  if (dev.demo) return produceDemo(settings, { dataDir: dev.dataDir, schemasDir: dev.schemasDir, paceMs: settings.FERRY_PRODUCE_FORMAT === "json" ? 0 : 100 });
  const config = loadProduceConfig(settings);
  const schema = await loadSchemaFile(config.schemaFile);
  const text = config.input === "-" ? await Bun.stdin.text() : await Bun.file(config.input).text();
  const events = parseJsonLines(text, { envelope: config.envelope, ...(config.keyField ? { keyField: config.keyField } : {}) });
  const avro = await connectAvroProducer({
    kafka: config.kafka,
    registry: config.registry,
    strategy: config.strategy,
    eventIdHeader: config.eventIdHeader,
    autoRegister: config.autoRegister,
  });
  try {
    let summary = { subject: "", schemaId: 0 };
    for (let i = 0; i < events.length; i += sliceSize) {
      const sent = await avro.send(config.topic, schema, events.slice(i, i + sliceSize));
      summary = { subject: sent.subject, schemaId: sent.schemaId };
    }
    const result = { topic: config.topic, ...summary, produced: events.length };
    console.log(
      config.format === "json"
        ? JSON.stringify(result)
        : `produced ${events.length} event(s) to ${config.topic}${events.length ? ` (subject ${summary.subject}, schema id ${summary.schemaId})` : ""}`,
    );
    return 0;
  } finally {
    await avro.close();
  }
}
