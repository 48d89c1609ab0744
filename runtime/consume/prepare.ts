import { isUtf8 } from "node:buffer";
import type { AvroDecode } from "../avro/decoder.ts";
import { DecodeError } from "../errors.ts";
import type { EventMeta, ValueFormat } from "../handlers/contract.ts";
import type { KafkaRecord } from "../kafka/port.ts";
import type { RetryEnvelope } from "../retry/envelope.ts";

/**
 * A record ready for the unit of work, or the reason it must be dead-lettered without running the
 * handler. `record` is the Kafka record as read (its offset is what commits); `retry`, for a record
 * read from a retry topic, says which attempt it is and where the event came from.
 */
export type PreparedEvent =
  | { kind: "event"; record: KafkaRecord; meta: EventMeta; value: unknown; retry?: RetryEnvelope }
  | {
      kind: "rejected";
      record: KafkaRecord;
      eventId: string | null;
      reason: RejectReason;
      code: string;
      message: string;
      retry?: RetryEnvelope;
      /** The source topic whose dead letter topic it goes to, when not the record's own (a retry record Ferry did not write). */
      deadLetterFor?: string;
    };

export type RejectReason = "missing-event-id" | "malformed-event-id" | "decode-failed" | "malformed-retry-record";

/** Event ids: 1-200 printable ASCII characters without spaces (UUIDs, ULIDs, "order-42:v3", ...). */
const wellFormedEventId = /^[\x21-\x7e]{1,200}$/;

export interface PrepareOptions {
  eventIdHeader: string;
  missingEventId: "dead-letter" | "derive";
  format: ValueFormat;
  /** Decodes format "avro"; its writer schemas must have been fetched for this batch. */
  avro?: AvroDecode;
}

/** Reads the event id and decodes the value. Pure: no I/O; whatever is wrong with the record becomes a rejection, not a throw. */
export function prepareRecord(record: KafkaRecord, options: PrepareOptions): PreparedEvent {
  if (record.repeatedHeaders?.includes(options.eventIdHeader)) {
    // Which one is the event's identity? Deduplicating on either could apply the event twice.
    return reject(
      record,
      null,
      "malformed-event-id",
      `the record carries the "${options.eventIdHeader}" header more than once with different values; an event has exactly one id`,
    );
  }
  const headerValue = record.headers[options.eventIdHeader];
  let id: string;
  if (headerValue === undefined || headerValue.length === 0) {
    if (options.missingEventId === "dead-letter") {
      return reject(record, null, "missing-event-id", `the record has no "${options.eventIdHeader}" header; producers must set one per event`);
    }
    // "derive": the record's coordinates identify it. Redelivery of this record deduplicates;
    // a producer that re-sends the same event as a new record does not.
    id = `${record.topic}/${record.partition}/${record.offset}`;
  } else {
    const text = decodeUtf8(headerValue);
    if (text === null || !wellFormedEventId.test(text)) {
      return reject(record, null, "malformed-event-id", `the "${options.eventIdHeader}" header must be 1-200 printable ASCII characters without spaces`);
    }
    id = text;
  }
  const meta: EventMeta = {
    id,
    // Not base64 for a binary key: a text key could equal it, and the two would share a business key.
    key: record.key === null ? null : decodeUtf8(record.key),
    keyBytes: record.key,
    headers: stringHeaders(record.headers, headerValue === undefined ? undefined : { name: options.eventIdHeader, text: id }),
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
  };
  try {
    return { kind: "event", record, meta, value: decodeValue(record.value, options.format, options.avro) };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e; // not the event's fault (a schema that was never fetched)
    const error = e as DecodeError;
    return reject(record, id, "decode-failed", `${error.reason}: ${error.message}`, error.reason);
  }
}

export function decodeValue(value: Buffer | null, format: ValueFormat, avro?: AvroDecode): unknown {
  if (format === "bytes") return value;
  if (value === null || value.length === 0) {
    throw new DecodeError("empty-value", "the record has no value; a tombstone or empty payload cannot be handled as an event");
  }
  if (format === "avro") {
    if (!avro) throw new Error('format "avro" needs a decoder: the engine wires one per Avro handler');
    return avro(value);
  }
  const text = decodeUtf8(value);
  if (text === null) throw new DecodeError("invalid-utf8", "the value is not valid UTF-8 text");
  if (format === "string") return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DecodeError("invalid-json", `the value is not valid JSON: ${(e as Error).message}`);
  }
}

function reject(record: KafkaRecord, eventId: string | null, reason: RejectReason, message: string, code: string = reason): PreparedEvent {
  return { kind: "rejected", record, eventId, reason, code, message };
}

/** Strict: invalid UTF-8 is refused, never replaced. (isUtf8 + toString: about half what a fatal TextDecoder costs per small buffer.) */
function decodeUtf8(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString("utf8") : null;
}

/** Header values as text (base64 when not UTF-8); `known` is one already decoded (the event id). */
function stringHeaders(headers: Record<string, Buffer>, known?: { name: string; text: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) out[k] = k === known?.name ? known.text : (decodeUtf8(headers[k]!) ?? headers[k]!.toString("base64"));
  return out;
}
