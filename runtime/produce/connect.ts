/**
 * A ready Avro producer for a TypeScript service (and `ferry produce`): Kafka producer with
 * acks=all and idempotence, registry client, and the schema-id lookups, closed with `close()`.
 */
import type { RegistrySettings } from "../config/registry-settings.ts";
import { createConfluentKafka, type KafkaConnection } from "../kafka/confluent.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { connectRegistry } from "../registry/connect.ts";
import type { SubjectStrategy } from "../registry/subject-strategy.ts";
import { createAvroProducer, type AvroProducer } from "./avro-producer.ts";

export async function connectAvroProducer(options: {
  kafka: KafkaConnection;
  registry: RegistrySettings;
  strategy?: SubjectStrategy;
  eventIdHeader?: string;
  /** Register a schema that is missing under its subject. For development; production registers from CI. */
  autoRegister?: boolean;
  log?: Logger;
}): Promise<AvroProducer & { close(): Promise<void> }> {
  const producer = await createConfluentKafka(options.kafka, options.log ?? createLogger({ level: "warn" })).producer();
  const avro = createAvroProducer({
    producer,
    registry: connectRegistry(options.registry),
    ...(options.strategy ? { strategy: options.strategy } : {}),
    ...(options.eventIdHeader ? { eventIdHeader: options.eventIdHeader } : {}),
    ...(options.autoRegister ? { autoRegister: true } : {}),
  });
  return { send: avro.send, close: () => producer.stop() };
}
