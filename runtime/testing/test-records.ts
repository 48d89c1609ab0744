/**
 * Turns the events a test gives into the Kafka records `ferry run` would receive: the value encoded
 * in the handler's format (Avro framed with the handler's own schema), the event id in its header.
 * A Buffer or Uint8Array value goes as it is: the way to send a poison value.
 */
import { randomUUID } from "node:crypto";
import { createAvroDecoder, type WriterSchema } from "../avro/decoder.ts";
import type { AvroType } from "../avro/parse-schema.ts";
import { frame } from "../avro/wire-format.ts";
import { EncodeError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { KafkaRecord } from "../kafka/port.ts";
import { encode } from "../produce/avro-producer.ts";
import type { AvroDecoding } from "../registry/handler-avro.ts";

/** One event as a test writes it. */
export interface TestEvent {
  /** The value: encoded in the handler's `format`. Bytes (Buffer, Uint8Array) are sent as they are; null is a tombstone. */
  value: unknown;
  /** The event id header. Default: a new UUID. `null`: no header at all (a producer that forgot it). */
  eventId?: string | null;
  key?: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
  /** Default: the handler's first topic. */
  topic?: string;
  /** Default 0. Each partition's offsets count up from 0 per harness. */
  partition?: number;
  /** Milliseconds since the epoch; default: now. */
  timestamp?: number;
}

/** The registry id the harness gives the handler's own schema: framed values name it. */
export const testSchemaId = 1;

const bytesOf = (v: Uint8Array) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

export function encodeValue(handler: LoadedHandler, value: unknown, reader: AvroType | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return bytesOf(value);
  switch (handler.format) {
    case "avro":
      if (!reader) {
        throw new EncodeError(
          `handler ${handler.name} reads Avro without a \`schema\`: give the test's values as framed bytes, or give the handler its schema`,
        );
      }
      return frame(testSchemaId, encode(reader, value));
    case "json":
      return Buffer.from(JSON.stringify(value));
    case "string":
    case "bytes":
      if (typeof value !== "string") throw new EncodeError(`handler ${handler.name} reads ${handler.format}: give the value as a string or bytes`);
      return Buffer.from(value);
  }
}

/** The record for `event` at `offset`; `eventIdHeader` as configured (FERRY_EVENT_ID_HEADER). */
export function toRecord(
  handler: LoadedHandler,
  event: TestEvent,
  offset: bigint,
  { eventIdHeader, reader }: { eventIdHeader: string; reader: AvroType | undefined },
): KafkaRecord {
  const headers: Record<string, Buffer> = {};
  for (const [name, v] of Object.entries(event.headers ?? {})) headers[name] = typeof v === "string" ? Buffer.from(v) : bytesOf(v);
  if (event.eventId !== null) headers[eventIdHeader] = Buffer.from(event.eventId ?? randomUUID());
  return {
    topic: event.topic ?? handler.topics[0]!,
    partition: event.partition ?? 0,
    offset: offset.toString(),
    key: event.key === undefined || event.key === null ? null : typeof event.key === "string" ? Buffer.from(event.key) : bytesOf(event.key),
    value: encodeValue(handler, event.value, reader),
    headers,
    timestamp: event.timestamp ?? Date.now(),
  };
}

/**
 * Avro decoding as the engine wires it (registry/handler-avro.ts), with the registry replaced by
 * the handler's own schema under `testSchemaId`: any other id is unknown, as to a real registry.
 */
export function localAvroDecoding(reader: AvroType | undefined): AvroDecoding {
  const writers = {
    peek: (id: number): WriterSchema =>
      id === testSchemaId && reader
        ? { kind: "avro", type: reader }
        : { kind: "missing", detail: `ferry/testing knows only the handler's own schema, as id ${testSchemaId}` },
  };
  return { warm: async () => {}, decode: createAvroDecoder({ ...(reader ? { reader } : {}), writers }) };
}
