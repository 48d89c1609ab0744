/**
 * The producer API for TypeScript services: values in, Avro in the registry's wire format out,
 * with the event-id header Ferry's consumers deduplicate on and the key set. Sent through the
 * Kafka port's producer (acks=all, idempotence on). Schemas are looked up, not registered:
 * in production they are registered from CI (`ferry schemas register`); `autoRegister` is for
 * development.
 */
import { randomUUID } from "node:crypto";
import type { AvroType } from "../avro/parse-schema.ts";
import { frame } from "../avro/wire-format.ts";
import { EncodeError, FerryError } from "../errors.ts";
import type { ProducerPort, TopicPartitionOffset } from "../kafka/port.ts";
import type { RegistryClient } from "../registry/client.ts";
import { subjectName, type SubjectStrategy } from "../registry/subject-strategy.ts";

/** A value schema: the parsed type and its JSON text as registered. `loadSchemaFile` returns one. */
export interface ValueSchema {
  type: AvroType;
  text: string;
}

export interface AvroEvent<T = unknown> {
  value: T;
  key?: string | Buffer | null;
  /** The event id header's value; a random UUID when omitted. */
  eventId?: string;
  headers?: Record<string, string | Buffer>;
  partition?: number;
}

export interface AvroProducer {
  /** Encodes every event first (one invalid value sends nothing), then sends them; resolves when all are acknowledged. */
  send<T>(
    topic: string,
    schema: ValueSchema,
    events: ReadonlyArray<AvroEvent<T>>,
  ): Promise<{ subject: string; schemaId: number; offsets: TopicPartitionOffset[] }>;
}

export function createAvroProducer({
  producer,
  registry,
  strategy = "TopicName",
  eventIdHeader = "event-id",
  autoRegister = false,
}: {
  producer: ProducerPort;
  registry: Pick<RegistryClient, "lookup" | "register">;
  strategy?: SubjectStrategy;
  eventIdHeader?: string;
  autoRegister?: boolean;
}): AvroProducer {
  const ids = new Map<string, Promise<number>>();

  const schemaId = (subject: string, schema: ValueSchema): Promise<number> => {
    const key = `${subject}\n${schema.text}`;
    let id = ids.get(key);
    if (!id) {
      id = (async () => {
        const found = await registry.lookup(subject, schema.text);
        if (found) return found.id;
        if (!autoRegister) {
          throw new FerryError(
            `schema ${schema.type.name ?? ""} is not registered under subject ${subject}: register it from CI with 'ferry schemas register' (or enable auto-registration in development)`,
          );
        }
        return (await registry.register(subject, schema.text)).id;
      })();
      id.catch(() => ids.delete(key)); // a failure is not remembered: the next send asks again
      ids.set(key, id);
    }
    return id;
  };

  return {
    async send(topic, schema, events) {
      const subject = subjectName(strategy, topic, schema.type.name);
      const payloads = events.map((event, i) => encode(schema.type, event.value, i));
      const id = await schemaId(subject, schema);
      const offsets = await producer.send(
        events.map((event, i) => ({
          topic,
          key: event.key ?? null,
          value: frame(id, payloads[i]!),
          headers: { ...event.headers, [eventIdHeader]: event.eventId ?? randomUUID() },
          ...(event.partition !== undefined ? { partition: event.partition } : {}),
        })),
      );
      return { subject, schemaId: id, offsets };
    },
  };
}

/** The Avro binary of `value`, or an EncodeError naming every field that does not fit (unknown fields included: likely typos). */
export function encode(type: AvroType, value: unknown, index = 0): Buffer {
  const problems: string[] = [];
  const at = (path: string[]) => `\`${path.join(".") || "(value)"}\``;
  type.isValid(value, {
    errorHook: (path, got, expected) =>
      problems.push(`${at(path)} is ${JSON.stringify(got) ?? "undefined"}, expected ${expected.typeName.replace(/^union:\w+$/, "a union branch")}`),
  });
  // A second pass for fields the schema does not declare: avsc reports the record, we name the fields.
  type.isValid(value, {
    noUndeclaredFields: true,
    errorHook: (path, got, expected) => {
      const declared = new Set(((expected as { fields?: Array<{ name: string }> }).fields ?? []).map((f) => f.name));
      if (typeof got !== "object" || got === null || declared.size === 0) return;
      for (const key of Object.keys(got)) if (!declared.has(key)) problems.push(`${at([...path, key])} is not a field of ${expected.name}`);
    },
  });
  if (problems.length > 0) throw new EncodeError(`event ${index + 1} does not match schema ${type.name ?? type.typeName}: ${problems.join("; ")}`);
  return type.toBuffer(value);
}
