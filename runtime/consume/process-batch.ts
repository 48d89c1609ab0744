import type { Sql } from "postgres";
import { coerceError, InfrastructureError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { applyUnit, type EventResult, type UnitEvent } from "../inbox/unit-of-work.ts";
import type { KafkaRecord, OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { buildDeadLetter, type DeadLetterDetails } from "../dlt/dead-letter.ts";
import { classifyFailure, isInfrastructureFailure } from "./classify.ts";
import type { PreparedEvent } from "./prepare.ts";
import { sleep } from "./sleep.ts";

export interface BatchDeps {
  sql: Sql;
  handler: LoadedHandler;
  groupId: string;
  producer: ProducerPort;
  deadLetterSuffix: string;
  log: Logger;
  signal: AbortSignal;
  /** Stops retry loops when the partition is revoked. */
  isStale(): boolean;
  /** Called after each commit to PostgreSQL with the partition's new next offset. */
  onCommitted(nextOffset: string): void;
  onEvent?(result: EventResult | { kind: "dead-lettered"; reason: string }): void;
}

const nextOf = (record: KafkaRecord) => (BigInt(record.offset) + 1n).toString();

/**
 * Processes the prepared events of one partition batch, in order. Happy path: one transaction
 * for the whole batch. When the handler fails on an event, the events before it commit in their
 * own transaction, the failing event is retried alone with backoff (its partition waits; other
 * partitions do not), then dead-lettered; the rest of the batch continues. So one bad event
 * never undoes its neighbours, and the happy path pays for no savepoints.
 */
export async function processPrepared(prepared: PreparedEvent[], deps: BatchDeps): Promise<void> {
  let from = 0;
  let pending: { pos: number; error: unknown; at: Date } | null = null;
  while (from < prepared.length) {
    if (pending && pending.pos === from) {
      await retryAlone(prepared[from] as Extract<PreparedEvent, { kind: "event" }>, pending.error, pending.at, deps);
      pending = null;
      from += 1;
      continue;
    }
    const to = pending ? pending.pos : prepared.length;
    const failure = await applyRange(prepared, from, to, 1, deps);
    if (!failure) {
      from = to;
      continue;
    }
    pending = { ...failure, at: new Date() };
  }
}

/** Applies prepared[from, to) in one transaction. Returns the failing position when the handler failed. */
async function applyRange(
  prepared: PreparedEvent[],
  from: number,
  to: number,
  attempt: number,
  deps: BatchDeps,
): Promise<{ pos: number; error: unknown } | null> {
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
      beforeCommit: async (results) => {
        const letters: OutgoingRecord[] = [];
        const now = new Date();
        for (const p of slice) {
          if (p.kind === "rejected") {
            letters.push(deadLetter(p.record, { reason: p.reason, eventId: p.eventId, errorClass: "DecodeError", errorMessage: p.message, failedAt: now }, deps));
          }
        }
        results.forEach((r, i) => {
          const meta = events[i]!.meta;
          const record = (prepared[positions[i]!] as Extract<PreparedEvent, { kind: "event" }>).record;
          if (r.kind === "functional-duplicate") {
            letters.push(deadLetter(record, { reason: "functional-duplicate", eventId: meta.id, heldBy: r.heldBy, businessKey: r.businessKey, failedAt: now }, deps));
          } else if (r.kind === "business-key-failed") {
            letters.push(deadLetter(record, { reason: "business-key-failed", eventId: meta.id, errorClass: r.error.name, errorMessage: r.error.message, failedAt: now }, deps));
          }
        });
        // MUST be acknowledged before COMMIT: the committed offset skips these events.
        if (letters.length > 0) await deps.producer.send(letters);
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
  return { pos: positions[result.index]!, error: result.error };
}

/** Retries one event in its own transactions until it applies or its outcome is a dead letter. */
async function retryAlone(
  event: Extract<PreparedEvent, { kind: "event" }>,
  firstError: unknown,
  firstAttemptAt: Date,
  deps: BatchDeps,
): Promise<void> {
  let error = firstError;
  for (let attempt = 1; ; attempt++) {
    // A failure while stopping says nothing about the event: leave it for the next owner.
    if (deps.signal.aborted) throw coerceError(error);
    const outcome = classifyFailure(error, attempt, deps.handler.retry);
    if (outcome.kind === "infrastructure") {
      throw new InfrastructureError("the database failed while applying an event; it will be retried", { cause: error });
    }
    if (outcome.kind === "dead-letter") {
      const e = coerceError(error);
      deps.log.warn("event:dead-lettering", { eventId: event.meta.id, reason: outcome.reason, attempts: attempt, errorClass: e.name });
      const letter = deadLetter(event.record, {
        reason: outcome.reason,
        eventId: event.meta.id,
        errorClass: e.name,
        errorMessage: e.message,
        attempts: attempt,
        firstAttemptAt,
        failedAt: new Date(),
      }, deps);
      await deps.producer.send([letter]);
      await recordDeadLettered(event, deps);
      deps.onEvent?.({ kind: "dead-lettered", reason: outcome.reason });
      return;
    }
    deps.log.info("event:retrying", { eventId: event.meta.id, attempt: attempt + 1, delayMs: outcome.delayMs });
    await sleep(outcome.delayMs, deps.signal);
    if (deps.isStale()) throw new InfrastructureError("the partition was revoked while an event waited for a retry");
    const failure = await applyRange([event], 0, 1, attempt + 1, deps);
    if (!failure) return;
    error = failure.error;
  }
}

/** Marks a dead-lettered event as dealt with (inbox) and moves the partition past it, in one transaction. */
async function recordDeadLettered(event: Extract<PreparedEvent, { kind: "event" }>, deps: BatchDeps): Promise<void> {
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
