import type { KafkaRecord, OutgoingRecord } from "../kafka/port.ts";

/** Why an event went to the dead letter topic. The value of the `ferry-reason` header. */
export type DeadLetterReason =
  | "functional-duplicate"
  | "exhausted"
  /** Every delay of `retry: { mode: "topics" }` passed and the last attempt failed too. */
  | "retry-topics-exhausted"
  /** Kafka refused the event's retry record as too large (its value with the attempts' headers): no retry can carry it. */
  | "retry-record-too-large"
  /** A record in a retry topic without Ferry's `ferry-retry-*` headers (not written by Ferry). */
  | "malformed-retry-record"
  | "permanent"
  | "decode-failed"
  | "missing-event-id"
  | "malformed-event-id"
  | "business-key-failed"
  | "unstorable-business-key"
  | "rejected-by-database"
  /**
   * The outbox relay's (never a dead letter): Kafka refused a published record for what it is (too
   * large for its topic, an invalid record). Its row is set aside (`failed_at`), not sent.
   */
  | "refused-by-kafka";

export interface DeadLetterDetails {
  reason: DeadLetterReason;
  handler: string;
  eventId: string | null;
  /** Event id that already holds the business key (functional duplicates). */
  heldBy?: string;
  businessKey?: string;
  errorClass?: string;
  /** The error's `code`: a SQLSTATE, a decode reason, ... */
  errorCode?: string;
  errorMessage?: string;
  attempts?: number;
  firstAttemptAt?: Date;
  failedAt: Date;
  /** Retry topics: every failed attempt (the `ferry-retry-history` JSON). */
  history?: string;
  /** The source topic whose dead letter topic it goes to, when not the record's own. */
  deadLetterFor?: string;
}

export const deadLetterTopic = (topic: string, suffix: string) => `${topic}${suffix}`;

/**
 * The dead letter record: the original key, value and headers, plus `ferry-*` headers that say
 * what happened, where the event came from and what to do about it.
 */
export function buildDeadLetter(record: KafkaRecord, details: DeadLetterDetails, suffix: string): OutgoingRecord {
  const headers: Record<string, Buffer | string> = { ...record.headers };
  const set = (name: string, value: string | number | undefined | null) => {
    if (value !== undefined && value !== null) headers[`ferry-${name}`] = String(value);
  };
  set("reason", details.reason);
  set("handler", details.handler);
  set("source-topic", record.topic);
  set("source-partition", record.partition);
  set("source-offset", record.offset);
  set("source-timestamp", record.timestamp);
  set("event-id", details.eventId);
  set("held-by-event-id", details.heldBy);
  set("business-key", details.businessKey);
  set("error-class", details.errorClass);
  set("error-code", details.errorCode);
  // Bounded: an error message can embed anything; the header must stay small.
  set("error-message", details.errorMessage?.slice(0, 2_000));
  set("attempts", details.attempts);
  set("first-attempt-at", details.firstAttemptAt?.toISOString());
  set("failed-at", details.failedAt.toISOString());
  set("retry-history", details.history);
  return { topic: deadLetterTopic(details.deadLetterFor ?? record.topic, suffix), key: record.key, value: record.value, headers };
}

/**
 * The same dead letter without the original value, for when Kafka refuses the whole record as too
 * large: `ferry-value-omitted` says how many bytes were dropped; the original stays readable at
 * `ferry-source-topic/partition/offset` for the source topic's retention.
 */
export function withoutValue(letter: OutgoingRecord): OutgoingRecord {
  const bytes = letter.value === null ? 0 : Buffer.byteLength(letter.value);
  return { ...letter, value: null, headers: { ...letter.headers, "ferry-value-omitted": String(bytes) } };
}

/** A record read back from a dead letter topic: what Ferry wrote in its `ferry-*` headers, and the original. */
export interface DeadLetter {
  reason: string;
  handler: string;
  eventId: string | null;
  heldBy?: string;
  errorClass?: string;
  errorCode?: string;
  errorMessage?: string;
  attempts?: number;
  failedAt?: string;
  /** The record as it was on its source topic, with its original headers only. */
  original: KafkaRecord;
  /** Where the dead letter itself sits. */
  at: { topic: string; partition: number; offset: string };
}

/** The inverse of `buildDeadLetter`. Returns null for a record Ferry did not write. */
export function parseDeadLetter(record: KafkaRecord): DeadLetter | null {
  const get = (name: string) => record.headers[`ferry-${name}`]?.toString();
  const reason = get("reason");
  const handler = get("handler");
  const sourceTopic = get("source-topic");
  const sourcePartition = get("source-partition");
  const sourceOffset = get("source-offset");
  if (!reason || !handler || !sourceTopic || sourcePartition === undefined || sourceOffset === undefined) return null;
  const headers = Object.fromEntries(Object.entries(record.headers).filter(([name]) => !name.startsWith("ferry-")));
  const optional = (name: string, key: string) => (get(name) === undefined ? {} : { [key]: get(name) });
  return {
    reason,
    handler,
    eventId: get("event-id") ?? null,
    ...optional("held-by-event-id", "heldBy"),
    ...optional("error-class", "errorClass"),
    ...optional("error-code", "errorCode"),
    ...optional("error-message", "errorMessage"),
    ...optional("failed-at", "failedAt"),
    ...(get("attempts") === undefined ? {} : { attempts: Number(get("attempts")) }),
    original: {
      topic: sourceTopic,
      partition: Number(sourcePartition),
      offset: sourceOffset,
      key: record.key,
      value: record.value,
      headers,
      timestamp: Number(get("source-timestamp") ?? record.timestamp),
    },
    at: { topic: record.topic, partition: record.partition, offset: record.offset },
  };
}
