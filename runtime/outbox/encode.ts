/**
 * How `ctx.publish` turns a value into a record's bytes, per declared topic: JSON, string, bytes,
 * or Avro in the registry's wire format with a schema id looked up at start (never registered).
 */
import path from "node:path";
import { parseSchema } from "../avro/parse-schema.ts";
import { frame } from "../avro/wire-format.ts";
import { PublishError, SchemaGateError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { encode as encodeAvro, type ValueSchema } from "../produce/avro-producer.ts";
import type { RegistryClient } from "../registry/client.ts";
import { subjectName, type SubjectStrategy } from "../registry/subject-strategy.ts";
import { loadSchemaFile } from "../schemas/catalog.ts";

/** A value (null: a tombstone) to the record's value bytes; throws PublishError or EncodeError. */
export type Encode = (value: unknown) => Buffer | null;

export function plainEncoder(format: "json" | "string" | "bytes", topic: string): Encode {
  return (value) => {
    if (value === null) return null;
    switch (format) {
      case "json": {
        let text: string | undefined;
        try {
          text = value === undefined ? undefined : JSON.stringify(value);
        } catch (e) {
          // A BigInt, a cycle, a throwing toJSON: the same value fails the same way on every retry.
          throw new PublishError(`publish to ${topic}: the value cannot be written as JSON: ${(e as Error).message}`, { cause: e });
        }
        if (text === undefined) throw new PublishError(`publish to ${topic}: the value cannot be written as JSON (got ${typeof value})`);
        return Buffer.from(text);
      }
      case "string":
        if (typeof value !== "string") throw new PublishError(`publish to ${topic}: the topic is declared format "string", got ${typeof value}`);
        // UTF-8 cannot carry a lone surrogate: Buffer.from would write U+FFFD and change the value unseen.
        if (!value.isWellFormed()) throw new PublishError(`publish to ${topic}: the string value has a lone UTF-16 surrogate, which UTF-8 cannot carry`);
        return Buffer.from(value);
      case "bytes":
        if (!(value instanceof Uint8Array)) throw new PublishError(`publish to ${topic}: the topic is declared format "bytes", give a Buffer or Uint8Array`);
        return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  };
}

/** The writer schema of an Avro publish declaration: a path relative to the handler file, or the schema object. */
export async function writerSchemaOf(handler: Pick<LoadedHandler, "file">, schema: string | Record<string, unknown>): Promise<ValueSchema> {
  if (typeof schema !== "string") return { type: parseSchema(schema, handler.file), text: JSON.stringify(schema) };
  const file = await loadSchemaFile(path.resolve(path.dirname(handler.file), schema));
  return { type: file.type, text: file.text };
}

/**
 * Every declared topic's encoder for one handler. Avro schemas must be registered under their
 * subject already: a missing one stops the handler here, at start, not at its first publish.
 */
export async function prepareEncoders(
  handler: Pick<LoadedHandler, "name" | "file" | "publishes">,
  registry: Pick<RegistryClient, "lookup"> | undefined,
  strategy: SubjectStrategy,
): Promise<Map<string, Encode>> {
  const encoders = new Map<string, Encode>();
  for (const p of handler.publishes) {
    if (p.format !== "avro") {
      encoders.set(p.topic, plainEncoder(p.format, p.topic));
      continue;
    }
    if (!registry) throw new SchemaGateError([`handler ${handler.name} publishes Avro to ${p.topic}: set FERRY_SCHEMA_REGISTRY_URL to the schema registry`]);
    const schema = await writerSchemaOf(handler, p.schema!);
    const subject = subjectName(strategy, p.topic, schema.type.name);
    const found = await registry.lookup(subject, schema.text);
    if (!found) {
      throw new SchemaGateError([
        `handler ${handler.name} publishes to ${p.topic} with schema ${schema.type.name ?? "(unnamed)"}, which is not registered under subject ${subject}: register it from CI with 'ferry schemas register' (Ferry never registers it itself)`,
      ]);
    }
    encoders.set(p.topic, (value) => (value === null ? null : frame(found.id, encodeAvro(schema.type, value))));
  }
  return encoders;
}
