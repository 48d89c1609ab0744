import type { Sql } from "postgres";
import { coerceError, InfrastructureError, RecordTooLargeError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { applyUnit, type EventResult, type UnitEvent } from "../inbox/unit-of-work.ts";
import type { KafkaRecord, OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { buildDeadLetter, withoutValue, type DeadLetterDetails } from "../dlt/dead-letter.ts";
import { classifyFailure, isInfrastructureFailure } from "./classify.ts";
import type { PreparedEvent } from "./prepare.ts";
import type { FaultInjector } from "../faults/inject.ts";
import { traceFieldsOf } from "../trace/traceparent.ts";

type EventItem = Extract<PreparedEvent, { kind: "event" }>;

export interface BatchDeps {
  sql: Sql;
  handler: LoadedHandler;
  groupId: string;
  producer: ProducerPort;
  deadLetterSuffix: string;
  log: Logger;
  signal: AbortSignal;
  /** Called after each commit to PostgreSQL with the partition's new next offset. */
  onCommitted(nextOffset: string): void;
  onEvent?(result: EventResult | { kind: "dead-lettered"; reason: string }): void;
  /** Test-only fault injection (FERRY_FAULT_INJECT). */
  faults?: FaultInjector;
}

const nextOf = (record: KafkaRecord) => (BigInt(record.offset) + 1n).toString();

/** A failing event waiting for its next attempt: kept by the worker while the partition pauses. */
export interface PendingRetry {
  offset: string;
  /** Attempts made so far. */
  attempts: number;
  firstAttemptAt: Date;
}

export type BatchOutcome = { kind: "done" } | { kind: "retry-later"; offset: string; delayMs: number; retry: PendingRetry };

/**
 * Processes the prepared events of one partition batch, in order. Happy path: one transaction
 * for the whole batch. When the handler fails on an event, the events before it commit in their
 * own transaction and the failing event is classified: a retry returns `retry-later` (the worker
 * pauses the partition for the backoff, so other partitions keep flowing, and the batch comes back
 * from that event), a dead letter is produced and the rest of the batch continues. One bad event
 * never undoes its neighbours, and the happy path pays for no savepoints.
 */
export async function processPrepared(prepared: PreparedEvent[], deps: BatchDeps, retry?: PendingRetry): Promise<BatchOutcome> {
  let from = 0;
  let pending: { pos: number; error: unknown; attempts: number; firstAttemptAt: Date } | null = null;
  const first = prepared[0];
  if (retry && first?.kind === "event" && first.record.offset === retry.offset) {
    // The event that failed before, alone, as its next attempt.
    const failure = await applyRange(prepared, 0, 1, retry.attempts + 1, deps);
    if (failure) pending = { pos: 0, error: failure.error, attempts: retry.attempts + 1, firstAttemptAt: retry.firstAttemptAt };
    else from = 1;
  }
  // Exclusive end of the next range to try: narrowed while bisecting a failed batch handler.
  let limit = prepared.length;
  while (from < prepared.length) {
    if (pending && pending.pos === from) {
      const event = prepared[from] as EventItem;
      // A failure while stopping says nothing about the event: leave it for the next owner.
      if (deps.signal.aborted) throw coerceError(pending.error);
      const outcome = classifyFailure(pending.error, pending.attempts, deps.handler.retry);
      if (outcome.kind === "infrastructure") {
        throw new InfrastructureError("the database failed while applying an event; it will be retried", { cause: pending.error });
      }
      if (outcome.kind === "retry") {
        deps.log.info("event:retry-scheduled", {
          eventId: event.meta.id,
          ...traceFieldsOf(event.meta.headers),
          attempt: pending.attempts + 1,
          delayMs: outcome.delayMs,
        });
        return {
          kind: "retry-later",
          offset: event.record.offset,
          delayMs: outcome.delayMs,
          retry: { offset: event.record.offset, attempts: pending.attempts, firstAttemptAt: pending.firstAttemptAt },
        };
      }
      await deadLetterFailed(event, outcome.reason, pending, deps);
      pending = null;
      from += 1;
      limit = prepared.length;
      continue;
    }
    const to = pending ? pending.pos : limit;
    const failure = await applyRange(prepared, from, to, 1, deps);
    if (!failure) {
      from = to;
      if (to === limit) limit = prepared.length;
      continue;
    }
    if ("pos" in failure) {
      pending = { ...failure, attempts: 1, firstAttemptAt: new Date() };
      continue;
    }
    // A batch handler failed somewhere in [from, to): try the first half of its events.
    limit = failure.eventPositions[Math.floor(failure.eventPositions.length / 2)]!;
  }
  return { kind: "done" };
}

/** Applies prepared[from, to) in one transaction. Returns the failing position when the handler failed. */
async function applyRange(
  prepared: PreparedEvent[],
  from: number,
  to: number,
  attempt: number,
  deps: BatchDeps,
): Promise<{ pos: number; error: unknown } | { eventPositions: number[]; error: unknown } | null> {
  const slice = prepared.slice(from, to);
  const events: UnitEvent[] = [];
  const positions: number[] = [];
  slice.forEach((p, i) => {
    if (p.kind === "event") {
      events.push({ meta: p.meta, value: p.value });
      positions.push(from + i);
    }
  });
  const last = slice[slice.length - 1]!.record;
  const result = await applyUnit(
    events,
    { topic: last.topic, partition: last.partition, nextOffset: nextOf(last) },
    {
      sql: deps.sql,
      handler: deps.handler,
      groupId: deps.groupId,
      log: deps.log,
      attempt,
      signal: deps.signal,
      ...(deps.faults ? { faults: deps.faults } : {}),
      beforeCommit: async (results) => {
        const letters: OutgoingRecord[] = [];
        const now = new Date();
        for (const p of slice) {
          if (p.kind === "rejected") {
            letters.push(
              deadLetter(p.record, { reason: p.reason, eventId: p.eventId, errorClass: "DecodeError", errorMessage: p.message, failedAt: now }, deps),
            );
          }
        }
        results.forEach((r, i) => {
          const meta = events[i]!.meta;
          const record = (prepared[positions[i]!] as Extract<PreparedEvent, { kind: "event" }>).record;
          if (r.kind === "functional-duplicate") {
            letters.push(
              deadLetter(record, { reason: "functional-duplicate", eventId: meta.id, heldBy: r.heldBy, businessKey: r.businessKey, failedAt: now }, deps),
            );
          } else if (r.kind === "business-key-failed") {
            letters.push(
              deadLetter(
                record,
                { reason: "business-key-failed", eventId: meta.id, errorClass: r.error.name, errorMessage: r.error.message, failedAt: now },
                deps,
              ),
            );
          }
        });
        if (letters.length > 0) await sendDeadLetters(letters, deps);
      },
    },
  );
  if (result.ok) {
    deps.onCommitted(nextOf(last));
    for (const r of result.results) deps.onEvent?.(r);
    for (const p of slice) if (p.kind === "rejected") deps.onEvent?.({ kind: "dead-lettered", reason: p.reason });
    return null;
  }
  if (isInfrastructureFailure(result.error)) {
    throw new InfrastructureError("the database failed while applying a batch; it will be retried", { cause: result.error });
  }
  if (result.index < 0) return { eventPositions: positions, error: result.error };
  return { pos: positions[result.index]!, error: result.error };
}

async function deadLetterFailed(
  event: EventItem,
  reason: "exhausted" | "permanent" | "decode-failed",
  failure: { error: unknown; attempts: number; firstAttemptAt: Date },
  deps: BatchDeps,
): Promise<void> {
  const e = coerceError(failure.error);
  deps.log.warn("event:dead-lettering", {
    eventId: event.meta.id,
    ...traceFieldsOf(event.meta.headers),
    reason,
    attempts: failure.attempts,
    errorClass: e.name,
  });
  const letter = deadLetter(
    event.record,
    {
      reason,
      eventId: event.meta.id,
      errorClass: e.name,
      errorMessage: e.message,
      attempts: failure.attempts,
      firstAttemptAt: failure.firstAttemptAt,
      failedAt: new Date(),
    },
    deps,
  );
  await sendDeadLetters([letter], deps);
  await recordDeadLettered(event, deps);
  deps.onEvent?.({ kind: "dead-lettered", reason });
}

/** Dead letters MUST be acknowledged before the offset that skips their events commits. A broker failure is not the event's fault. */
async function sendDeadLetters(letters: OutgoingRecord[], deps: BatchDeps): Promise<void> {
  try {
    await produceDeadLetters(letters, deps);
  } catch (e) {
    // Too large is not an outage: retrying the same bytes would hold the partition forever. Find
    // the letters Kafka refuses and send those without the original value.
    if (!(e instanceof RecordTooLargeError)) throw e;
    for (const letter of letters) {
      try {
        await produceDeadLetters([letter], deps);
      } catch (again) {
        if (!(again instanceof RecordTooLargeError)) throw again;
        const trimmed = withoutValue(letter);
        deps.log.warn("dead-letter:value-omitted", {
          topic: letter.topic,
          eventId: trimmed.headers?.["ferry-event-id"],
          bytes: trimmed.headers?.["ferry-value-omitted"],
        });
        await produceDeadLetters([trimmed], deps).catch((last: unknown) => {
          throw new InfrastructureError(`a dead letter is too large even without its value: ${coerceError(last).message}`, { cause: last });
        });
      }
    }
  }
}

async function produceDeadLetters(letters: OutgoingRecord[], deps: BatchDeps): Promise<void> {
  try {
    const acknowledged = deps.producer.send(letters);
    deps.faults?.("dead-letter-sending");
    await acknowledged;
    deps.faults?.("dead-letter-acked");
  } catch (e) {
    if (e instanceof RecordTooLargeError) throw e;
    throw new InfrastructureError(`producing ${letters.length} dead letter(s) failed: ${coerceError(e).message}`, { cause: e });
  }
}

/** Marks a dead-lettered event as dealt with (inbox) and moves the partition past it, in one transaction. */
async function recordDeadLettered(event: EventItem, deps: BatchDeps): Promise<void> {
  const { meta, record } = event;
  await deps.sql.begin(async (tx) => {
    await tx`insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome)
      values (${deps.handler.name}, ${meta.id}, ${meta.topic}, ${meta.partition}, ${meta.offset}, 'dead-lettered')
      on conflict (handler, event_id) do nothing`;
    await tx`insert into ferry_offsets (group_id, topic, partition, next_offset)
      values (${deps.groupId}, ${record.topic}, ${record.partition}, ${nextOf(record)})
      on conflict (group_id, topic, partition) do update set next_offset = excluded.next_offset, updated_at = now()`;
  });
  deps.onCommitted(nextOf(record));
}

function deadLetter(record: KafkaRecord, details: Omit<DeadLetterDetails, "handler">, deps: BatchDeps): OutgoingRecord {
  return buildDeadLetter(record, { ...details, handler: deps.handler.name }, deps.deadLetterSuffix);
}
