import { type PrepareOptions, type PreparedEvent, prepareRecord } from "../consume/prepare.ts";
import type { KafkaRecord } from "../kafka/port.ts";
import { readRetryEnvelope } from "./envelope.ts";

/**
 * Prepares a record read from one of `source`'s retry topics as the same event it was on `source`:
 * its coordinates (so its inbox row, and an id derived from them, are the first attempt's), its
 * key, value and headers, with the `ferry-retry-*` headers left visible to the handler. A record
 * without Ferry's envelope is refused and dead-lettered to `source`'s dead letter topic.
 */
export function prepareRetryRecord(record: KafkaRecord, source: string, options: PrepareOptions): PreparedEvent {
  const envelope = readRetryEnvelope(record);
  if ("problem" in envelope) {
    return {
      kind: "rejected",
      record,
      eventId: null,
      reason: "malformed-retry-record",
      code: "malformed-retry-record",
      message: envelope.problem,
      deadLetterFor: source,
    };
  }
  const { origin } = envelope;
  const prepared = prepareRecord(
    { ...origin, headers: record.headers, ...(record.repeatedHeaders ? { repeatedHeaders: record.repeatedHeaders } : {}) },
    options,
  );
  return { ...prepared, record, retry: envelope };
}
