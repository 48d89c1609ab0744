/**
 * Moving a partition past one event the failure policy has decided on, alone: to the dead letter
 * topic, or (retry topics) to its next retry topic. Either way the record is acknowledged by Kafka
 * (acks=all) BEFORE the offset past the event commits: a crash in between sends it again (a dead
 * letter twice, or a retry the inbox then skips), never loses it.
 */
import type { Sql, TransactionSql } from "postgres";
import { translateDatabaseError } from "../db/errors.ts";
import { allowTransactionIdle, insertDeadLettered } from "../db/sql/inbox.ts";
import { saveOffset } from "../db/sql/offsets.ts";
import { buildDeadLetter, type DeadLetterDetails, type DeadLetterReason } from "../dlt/dead-letter.ts";
import { publishDeadLetters } from "../dlt/publish.ts";
import { coerceError, DatabaseError } from "../errors.ts";
import { finishedWithin } from "../finished-within.ts";
import type { Failure } from "../failure/policy.ts";
import type { FaultInjector } from "../faults/inject.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { EventResult } from "../inbox/unit-event.ts";
import type { KafkaRecord, OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { RedactionSource } from "../log/redact.ts";
import { buildRetryRecord, type FailedAttempt, historyHeader } from "../retry/envelope.ts";
import { sendToRetryTopic } from "../retry/send.ts";
import { retryTopicName } from "../retry/topics.ts";
import { traceFieldsOf } from "../trace/traceparent.ts";
import { failureFields } from "./partition-state.ts";
import type { PreparedEvent } from "./prepare.ts";

export type EventItem = Extract<PreparedEvent, { kind: "event" }>;

/** What became of one record, once committed. */
export type SettledResult =
  | EventResult
  | { kind: "dead-lettered"; reason: string }
  /** Sent to a retry topic: it runs again there as attempt `attempt`, `delayMs` after it was sent. */
  | { kind: "sent-to-retry"; topic: string; attempt: number; delayMs: number };

export interface MovePastDeps {
  sql: Sql;
  handler: LoadedHandler;
  groupId: string;
  producer: ProducerPort;
  deadLetterSuffix: string;
  log: Logger;
  onCommitted(nextOffset: string): void;
  onEvent?(result: SettledResult, record: KafkaRecord): void;
  faults?: FaultInjector;
  /** Key-level concurrency: the caller stores the completed prefix, no offset is written here. */
  offsetsByCaller?: boolean;
  /** How long moving past an event may take in PostgreSQL before it is abandoned (tests shorten it). */
  commitDeadlineMs?: number;
}

/** The failed attempt the policy narrowed down to this event. */
export interface Culprit {
  failure: Failure;
  /** The attempt that just failed, 1-based. */
  attempt: number;
  firstAttemptAt: Date;
}

export const nextOf = (record: KafkaRecord) => (BigInt(record.offset) + 1n).toString();

/** The record as on its source topic: what a dead letter or a retry carries (a retry record's origin). */
export const sourceRecordOf = (p: PreparedEvent) => p.retry?.origin ?? p.record;

/**
 * Dead-letters an event, then records it and moves the partition past it. Returns the failure when
 * producing or recording failed (the environment's: the letter may go out again, the event is
 * never skipped without one).
 */
export async function deadLetterAlone(event: EventItem, reason: DeadLetterReason, culprit: Culprit, deps: MovePastDeps): Promise<Failure | null> {
  const { error } = culprit.failure;
  deps.log.warn("event:dead-lettering", { ...eventFields(event), reason, attempts: culprit.attempt, ...failureFields(culprit.failure, [sourceOf(event)]) });
  const failedAt = new Date();
  const details: Omit<DeadLetterDetails, "handler"> = {
    reason,
    eventId: event.meta.id,
    errorClass: error.name,
    errorMessage: error.message,
    attempts: culprit.attempt,
    firstAttemptAt: culprit.firstAttemptAt,
    failedAt,
    // Through retry topics: every attempt, this last one included.
    ...(event.retry ? { history: historyHeader([...event.retry.history, failedAttempt(event, culprit, failedAt)]) } : {}),
  };
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") details.errorCode = code;
  try {
    await publishDeadLetters([letter(sourceRecordOf(event), details, deps)], deps);
  } catch (e) {
    return { error: coerceError(e), source: "dead-letter" };
  }
  const { meta, record } = event;
  const failed = await commitPast(record, deps, (tx) => insertDeadLettered(tx, deps.handler.name, meta));
  if (failed) return failed;
  deps.onEvent?.({ kind: "dead-lettered", reason }, record);
  return null;
}

/**
 * Sends an event to the retry topic of `stage`, due `delayMs` from now, then moves the partition
 * past it. No inbox row: the event is not done, its retry is (the same event id, applied once).
 * Returns the failure when producing or committing failed (the environment's: the partition waits).
 */
export async function retryThroughTopic(
  event: EventItem,
  next: { stage: number; delayMs: number },
  culprit: Culprit,
  deps: MovePastDeps,
): Promise<Failure | null> {
  const origin = sourceRecordOf(event);
  const now = Date.now();
  const topic = retryTopicName(origin.topic, deps.handler.name, next.stage);
  const attempt = culprit.attempt + 1;
  deps.log.info("event:retry-scheduled", {
    ...eventFields(event),
    ...failureFields(culprit.failure, [sourceOf(event)]),
    attempt,
    retryTopic: topic,
    retryInMs: next.delayMs,
  });
  const record = buildRetryRecord(origin, {
    topic,
    attempt,
    dueAt: now + next.delayMs,
    firstAttemptAt: culprit.firstAttemptAt.getTime(),
    history: [...(event.retry?.history ?? []), failedAttempt(event, culprit, now)],
  });
  try {
    await sendToRetryTopic(record, deps);
  } catch (e) {
    return { error: coerceError(e), source: "retry-topic" };
  }
  const failed = await commitPast(event.record, deps);
  if (failed) return failed;
  deps.onEvent?.({ kind: "sent-to-retry", topic, attempt, delayMs: next.delayMs }, event.record);
  return null;
}

/**
 * How long the transaction that moves a partition past one event may take. Under a storm of killed
 * connections postgres.js can leave a transaction that never settles (see unit-of-work.ts's
 * deadline); unbounded, one left its partition stopped for good in the fault suite.
 */
const COMMIT_PAST_DEADLINE_MS = 30_000;

/** The offset past `record` (unless the caller stores it), with `also` in the same transaction. */
async function commitPast(record: KafkaRecord, deps: MovePastDeps, also?: (tx: TransactionSql) => Promise<unknown>): Promise<Failure | null> {
  if (also || !deps.offsetsByCaller) {
    const deadlineMs = deps.commitDeadlineMs ?? COMMIT_PAST_DEADLINE_MS;
    try {
      const committing = deps.sql.begin(async (tx) => {
        await Promise.all([
          // A worker frozen mid-transaction must not hold the partition's offset row for longer (see limitTransactionTimes).
          allowTransactionIdle(tx, deadlineMs),
          also?.(tx),
          deps.offsetsByCaller ? undefined : saveOffset(tx, deps.groupId, { topic: record.topic, partition: record.partition, offset: nextOf(record) }),
        ]);
      });
      // Abandoned past its deadline: a late rejection must not go unhandled.
      committing.catch(() => undefined);
      if (!(await finishedWithin(committing, deadlineMs))) {
        // The environment's, like the unit of work's deadline: the policy waits and the event is
        // moved past again (its record sent again: a repeat the inbox or the reader tolerates).
        const error = new DatabaseError(
          `PostgreSQL did not settle the transaction moving past offset ${record.offset} within ${deadlineMs} ms; it is abandoned and tried again`,
          "connection",
          { code: "UNIT_DEADLINE", retriable: true },
        );
        return { error, source: "ferry" };
      }
    } catch (e) {
      return { error: coerceError(translateDatabaseError(e)), source: "ferry" };
    }
  }
  deps.onCommitted(nextOf(record));
  return null;
}

function failedAttempt(event: EventItem, culprit: Culprit, failedAt: Date | number): FailedAttempt {
  const { error } = culprit.failure;
  const code = (error as { code?: unknown }).code;
  return {
    attempt: culprit.attempt,
    ...(event.retry ? { dueAt: event.retry.dueAt } : {}),
    failedAt: typeof failedAt === "number" ? failedAt : failedAt.getTime(),
    errorClass: error.name,
    ...(typeof code === "string" ? { errorCode: code } : {}),
    error: error.message,
  };
}

/** A dead letter of `record` (a source record) to its topic's dead letter topic. */
export function letter(
  record: KafkaRecord,
  details: Omit<DeadLetterDetails, "handler">,
  deps: Pick<MovePastDeps, "handler" | "deadLetterSuffix">,
): OutgoingRecord {
  return buildDeadLetter(record, { ...details, handler: deps.handler.name }, deps.deadLetterSuffix);
}

export const eventFields = (event: EventItem) => ({
  eventId: event.meta.id,
  partition: `${event.record.topic}:${event.record.partition}`,
  offset: event.record.offset,
  // A retry: where the event itself sits (the record above is its retry).
  ...(event.retry ? { sourceRecord: `${event.meta.topic}:${event.meta.partition}:${event.meta.offset}` } : {}),
  ...traceFieldsOf(event.meta.headers),
});

export const sourceOf = (event: EventItem): RedactionSource => ({ value: event.value, key: event.meta.key, headers: event.meta.headers });
