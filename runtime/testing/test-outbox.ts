/**
 * `ctx.publish` under ferry/testing: the engine's own outbox writer (the rows are written in the
 * handler's transaction, with the ids `ferry run` derives), and the published events read back
 * decoded. No relay: a test asserts what the handler published, not Kafka.
 */
import type { Sql } from "postgres";
import { publishedBy } from "../db/sql/outbox.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { prepareEncoders, writerSchemaOf } from "../outbox/encode.ts";
import { createOutboxWriter, type OutboxWriter } from "../outbox/writer.ts";
import { testSchemaId } from "./test-records.ts";

/** One event the handler published, as the relay would send it. */
export interface PublishedEvent {
  eventId: string;
  /** The id of the event whose handling published it. */
  sourceEventId: string;
  topic: string;
  key: string | null;
  /** Decoded with the topic's declared format: JSON parsed, string text, Avro decoded (after its 5-byte header), bytes as a Buffer. */
  value: unknown;
  headers: Record<string, string>;
}

export interface TestOutbox {
  writer: OutboxWriter;
  /** Everything published (committed) so far, in publish order. */
  published(sql: Sql): Promise<PublishedEvent[]>;
}

export async function createTestOutbox(handler: LoadedHandler, eventIdHeader: string): Promise<TestOutbox> {
  // Avro publishes are framed with the test schema id: there is no registry under ferry/testing.
  const registry = {
    lookup: async (subject: string, schema: string) => ({ subject, version: 1, id: testSchemaId, schemaType: "AVRO", schema }),
  };
  const encoders = await prepareEncoders(handler, registry, "TopicName");
  const writer = createOutboxWriter({ eventIdHeader, encoders: new Map([[handler.name, encoders]]), wake: () => {} });
  const decoders = new Map<string, (value: Buffer) => unknown>();
  for (const p of handler.publishes) {
    if (p.format === "avro") {
      const { type } = await writerSchemaOf(handler, p.schema!);
      decoders.set(p.topic, (value) => type.fromBuffer(value.subarray(5)));
    } else if (p.format === "json") decoders.set(p.topic, (value) => JSON.parse(value.toString("utf8")));
    else if (p.format === "string") decoders.set(p.topic, (value) => value.toString("utf8"));
    else decoders.set(p.topic, (value) => value);
  }
  return {
    writer,
    async published(sql) {
      const rows = await publishedBy(sql, handler.name);
      return rows.map((r) => ({
        eventId: r.event_id,
        sourceEventId: r.source_event_id,
        topic: r.topic,
        key: r.key === null ? null : r.key.toString("utf8"),
        value: r.value === null ? null : (decoders.get(r.topic)?.(r.value) ?? r.value),
        headers: r.headers,
      }));
    },
  };
}
