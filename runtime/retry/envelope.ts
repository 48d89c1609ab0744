/**
 * What a retry record carries besides the event: `ferry-retry-*` headers with the attempt it is,
 * when it is due, where the event came from and what went wrong so far. The original key, value
 * and headers (the event-id header with them: a retry that succeeds is applied once) travel
 * unchanged. Pure.
 */
import type { KafkaRecord, OutgoingRecord } from "../kafka/port.ts";

export const RETRY_HEADER_PREFIX = "ferry-retry-";
const header = (name: string) => `${RETRY_HEADER_PREFIX}${name}`;

/** One failed attempt, as the retry record (and at last the dead letter) remembers it. */
export interface FailedAttempt {
  attempt: number;
  /** When it was due (epoch ms); absent for the first attempt, which ran when it came. */
  dueAt?: number;
  /** When it failed (epoch ms). */
  failedAt: number;
  errorClass: string;
  errorCode?: string;
  error: string;
}

/** A record read from a retry topic. */
export interface RetryEnvelope {
  /** The attempt this delivery is: 2 for the first retry. */
  attempt: number;
  /** Not to run before this (epoch ms). */
  dueAt: number;
  firstAttemptAt: number;
  /** The event as it was on its source topic: its coordinates, key, value and original headers only. */
  origin: KafkaRecord;
  /** Every failed attempt so far, oldest first. */
  history: FailedAttempt[];
}

/** Bounds a header: an error message can embed anything. */
const MAX_MESSAGE = 300;

/** The next retry of `origin`: to `topic`, in the partition number the event had (so one retry partition holds one source partition's events). */
export function buildRetryRecord(
  origin: KafkaRecord,
  next: { topic: string; attempt: number; dueAt: number; firstAttemptAt: number; history: readonly FailedAttempt[] },
): OutgoingRecord {
  const last = next.history[next.history.length - 1];
  const headers: Record<string, Buffer | string> = { ...withoutRetryHeaders(origin.headers) };
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined) headers[header(name)] = String(value);
  };
  set("attempt", next.attempt);
  set("due-at", next.dueAt);
  set("first-attempt-at", next.firstAttemptAt);
  set("source-topic", origin.topic);
  set("source-partition", origin.partition);
  set("source-offset", origin.offset);
  set("source-timestamp", origin.timestamp);
  set("error-class", last?.errorClass);
  set("error-code", last?.errorCode);
  set("error-message", last?.error.slice(0, MAX_MESSAGE));
  set("history", historyHeader(next.history));
  return { topic: next.topic, partition: origin.partition, key: origin.key, value: origin.value, headers };
}

/** The attempts as the `ferry-retry-history` header (also on the final dead letter): JSON, each message bounded. */
export function historyHeader(history: readonly FailedAttempt[]): string {
  return JSON.stringify(history.map((a) => ({ ...a, error: a.error.slice(0, MAX_MESSAGE) })));
}

/** Reads a retry record's envelope, or says what is wrong with it (it was not written by Ferry). */
export function readRetryEnvelope(record: KafkaRecord): RetryEnvelope | { problem: string } {
  const text = (name: string) => record.headers[header(name)]?.toString();
  const integer = (name: string) => {
    const value = text(name);
    return value !== undefined && /^\d{1,16}$/.test(value) ? Number(value) : undefined;
  };
  const attempt = integer("attempt");
  const dueAt = integer("due-at");
  const firstAttemptAt = integer("first-attempt-at");
  const sourceTopic = text("source-topic");
  const sourcePartition = integer("source-partition");
  const sourceOffset = text("source-offset");
  const sourceTimestamp = integer("source-timestamp");
  const missing = [
    attempt === undefined || attempt < 2 ? "attempt" : null,
    dueAt === undefined ? "due-at" : null,
    firstAttemptAt === undefined ? "first-attempt-at" : null,
    sourceTopic ? null : "source-topic",
    sourcePartition === undefined ? "source-partition" : null,
    sourceOffset !== undefined && /^\d{1,20}$/.test(sourceOffset) ? null : "source-offset",
  ].filter((n) => n !== null);
  if (missing.length > 0) {
    return { problem: `the retry record lacks valid ${missing.map((n) => header(n)).join(", ")}: it was not written by Ferry` };
  }
  return {
    attempt: attempt!,
    dueAt: dueAt!,
    firstAttemptAt: firstAttemptAt!,
    origin: {
      topic: sourceTopic!,
      partition: sourcePartition!,
      offset: sourceOffset!,
      key: record.key,
      value: record.value,
      headers: withoutRetryHeaders(record.headers),
      ...(record.repeatedHeaders ? { repeatedHeaders: record.repeatedHeaders } : {}),
      timestamp: sourceTimestamp ?? record.timestamp,
    },
    history: parseHistory(text("history")),
  };
}

/** When a retry record may run: its due-at header; null when it has none (it runs at once and is refused for it). */
export function dueAtOf(record: KafkaRecord): number | null {
  const value = record.headers[header("due-at")]?.toString();
  return value !== undefined && /^\d{1,16}$/.test(value) ? Number(value) : null;
}

function parseHistory(value: string | undefined): FailedAttempt[] {
  if (value === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? (parsed.filter((a) => typeof a === "object" && a !== null && typeof a.attempt === "number") as FailedAttempt[]) : [];
  } catch {
    // The history is for people reading the dead letter; a damaged one does not stop the event.
    return [];
  }
}

function withoutRetryHeaders<T>(headers: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const name in headers) if (!name.startsWith(RETRY_HEADER_PREFIX)) out[name] = headers[name]!;
  return out;
}
