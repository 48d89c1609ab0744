import type { KafkaRecord, OutgoingRecord } from "../kafka/port.ts";

/** Why an event went to the dead letter topic. The value of the `ferry-reason` header. */
export type DeadLetterReason =
  | "functional-duplicate"
  | "exhausted"
  | "permanent"
  | "decode-failed"
  | "missing-event-id"
  | "malformed-event-id"
  | "business-key-failed";

export interface DeadLetterDetails {
  reason: DeadLetterReason;
  handler: string;
  eventId: string | null;
  /** Event id that already holds the business key (functional duplicates). */
  heldBy?: string;
  businessKey?: string;
  errorClass?: string;
  errorMessage?: string;
  attempts?: number;
  firstAttemptAt?: Date;
  failedAt: Date;
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
  // Bounded: an error message can embed anything; the header must stay small.
  set("error-message", details.errorMessage?.slice(0, 2_000));
  set("attempts", details.attempts);
  set("first-attempt-at", details.firstAttemptAt?.toISOString());
  set("failed-at", details.failedAt.toISOString());
  return { topic: deadLetterTopic(record.topic, suffix), key: record.key, value: record.value, headers };
}
