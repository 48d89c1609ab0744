/**
 * Applies the prepared records of one partition batch, in offset order: orchestration only. Every
 * failure goes to the failure policy (failure/policy.ts) and this loop carries out its decision.
 *
 * Happy path: one transaction for as many events as the partition's transaction size allows
 * (the whole batch unless it has met contention). On failure the policy narrows the transaction
 * down to one event (isolating a known culprit, bisecting otherwise), then retries it after a
 * backoff (the partition waits paused; other partitions go on), sends it to its retry topic or
 * dead-letters it (move-past.ts) and goes on with the rest. One bad event never undoes its
 * neighbours, and the happy path pays for no savepoints.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Sql } from "postgres";
import { publishDeadLetters } from "../dlt/publish.ts";
import { decide, type Failure } from "../failure/policy.ts";
import { finalVerdict, type Probe, verdictOf } from "../failure/systemic.ts";
import { afterCommit, afterContention } from "../failure/transaction-size.ts";
import type { FaultInjector } from "../faults/inject.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { applyUnit } from "../inbox/unit-of-work.ts";
import type { UnitEvent } from "../inbox/unit-event.ts";
import type { KafkaRecord, OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { OutboxWriter } from "../outbox/writer.ts";
import {
  type Culprit as Decided,
  deadLetterAlone,
  type EventItem,
  eventFields,
  letter,
  nextOf,
  retryThroughTopic,
  type SettledResult,
  sourceOf,
  sourceRecordOf,
} from "./move-past.ts";
import { type FailureFields, failureFields, type PartitionState } from "./partition-state.ts";
import type { PreparedEvent } from "./prepare.ts";

export interface BatchDeps {
  sql: Sql;
  handler: LoadedHandler;
  groupId: string;
  producer: ProducerPort;
  deadLetterSuffix: string;
  /** Events per transaction at most: the batch size. */
  maxTransactionSize: number;
  log: Logger;
  signal: AbortSignal;
  /** Called after each commit to PostgreSQL with the partition's new next offset. */
  onCommitted(nextOffset: string): void;
  /** Each event's result once it is committed, with the record it came from. */
  onEvent?(result: SettledResult, record: KafkaRecord): void;
  /** Waits out a contention backoff; ferry/testing hands in a fake clock's. Default: a real timer. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Test-only fault injection (FERRY_FAULT_INJECT). */
  faults?: FaultInjector;
  random?: () => number;
  /** The unit of work; tests of this orchestration hand in their own. */
  applyUnit?: typeof applyUnit;
  /** The handler's contention mode, shared by its partitions (failure/contention.ts). */
  contention?: { serialized(): boolean; contended(failure: Failure): void };
  /**
   * Key-level concurrency (process-by-key.ts): the transactions write no offset, the caller
   * stores the completed prefix; `onCommitted` still hears each event's next offset.
   */
  offsetsByCaller?: boolean;
  /** Events beyond `prepared` that may be probed before dead-lettering (failure/systemic.ts). */
  probeAlso?: readonly PreparedEvent[];
  /** Where `ctx.publish` writes (the outbox). */
  outbox?: OutboxWriter;
  /** How long moving past a dead-lettered or retried event may take in PostgreSQL (move-past.ts). */
  commitDeadlineMs?: number;
}

/**
 * `done`: every record is dealt with. `retry-later`: the event at `offset` waits out its backoff.
 * `wait`: the environment failed at `offset` (nothing was spent); the same is tried again later.
 */
export type BatchOutcome =
  | { kind: "done" }
  | { kind: "retry-later"; offset: string; delayMs: number }
  /**
   * `fields`: the failure as logs may show it (the events' values taken out). `systemic`: the
   * event's neighbours fail alike, so it is not dead-lettered (failure/systemic.ts).
   */
  | { kind: "wait"; offset: string; failure: Failure; fields: FailureFields; systemic?: boolean }
  /**
   * Stopped before the end (the partition is being revoked or paused, the worker stops): the rest
   * from `offset` is delivered again once the partition may run, or left to its next owner.
   */
  | { kind: "cut"; offset: string };

/** An event the policy has narrowed a failure down to, waiting for its decision. */
interface Culprit extends Decided {
  pos: number;
}

const realSleep = async (ms: number, signal: AbortSignal) => {
  await delay(ms, undefined, { signal });
};

export async function processPrepared(prepared: PreparedEvent[], deps: BatchDeps, state: PartitionState): Promise<BatchOutcome> {
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? realSleep;
  let from = 0;
  // Exclusive end of the range being narrowed down; the whole batch when nothing failed.
  let end = prepared.length;
  let culprit: Culprit | null = null;
  const offsetAt = (pos: number) => prepared[pos]!.record.offset;
  // An event waiting out its backoff since an earlier batch goes first, alone, as its next attempt.
  const retrying = state.retry;
  if (retrying && offsetAt(0) === retrying.offset) end = 1;
  // A record from a retry topic is the attempt its envelope says, first tried when it says.
  const attemptAt = (pos: number) => (retrying && offsetAt(pos) === retrying.offset ? retrying.attempts + 1 : (prepared[pos]!.retry?.attempt ?? 1));
  const firstAttemptAt = (pos: number) => {
    if (retrying && offsetAt(pos) === retrying.offset) return retrying.firstAttemptAt;
    const envelope = prepared[pos]!.retry;
    return envelope ? new Date(envelope.firstAttemptAt) : new Date();
  };

  while (from < prepared.length) {
    if (culprit && culprit.pos === from) {
      const event = prepared[from] as EventItem;
      const decision = decide(
        culprit.failure,
        { events: 1, culpritKnown: true, attempt: culprit.attempt, contended: state.contended },
        deps.handler.retry,
        random,
      );
      switch (decision.kind) {
        case "wait":
          state.lastFailure = { at: Date.now(), offset: event.record.offset, ...failureFields(culprit.failure, [sourceOf(event)]) };
          return { kind: "wait", offset: event.record.offset, failure: culprit.failure, fields: state.lastFailure };
        case "retry":
          if (!decision.spendsAttempt) {
            state.contended++;
            deps.contention?.contended(culprit.failure);
            deps.log.info("event:contended", { ...eventFields(event), ...failureFields(culprit.failure, [sourceOf(event)]), retryInMs: decision.delayMs });
            await sleep(decision.delayMs, deps.signal);
            culprit = null;
            end = from + 1;
            continue;
          }
          state.retry = { offset: event.record.offset, attempts: culprit.attempt, firstAttemptAt: culprit.firstAttemptAt };
          deps.log.info("event:retry-scheduled", {
            ...eventFields(event),
            ...failureFields(culprit.failure, [sourceOf(event)]),
            attempt: culprit.attempt + 1,
            ...("attempts" in deps.handler.retry ? { attempts: deps.handler.retry.attempts } : {}),
            retryInMs: decision.delayMs,
          });
          return { kind: "retry-later", offset: event.record.offset, delayMs: decision.delayMs };
        case "retry-topic": {
          const failed = await retryThroughTopic(event, decision, culprit, deps);
          if (failed) {
            // The policy judges the send's failure as well: the broker's waits, a record Kafka can never take is dead-lettered.
            culprit = { ...(culprit as Culprit), failure: failed };
            continue;
          }
          culprit = null;
          from += 1;
          end = prepared.length;
          continue;
        }
        case "dead-letter": {
          if (decision.unlessSystemic && (await probeFollowing(prepared, from, culprit.failure, deps)) === "systemic") {
            state.lastFailure = { at: Date.now(), offset: event.record.offset, ...failureFields(culprit.failure, [sourceOf(event)]) };
            return { kind: "wait", offset: event.record.offset, failure: culprit.failure, fields: state.lastFailure, systemic: true };
          }
          const failed = await deadLetterAlone(event, decision.reason, culprit, deps);
          if (failed) {
            state.lastFailure = { at: Date.now(), offset: event.record.offset, ...failureFields(failed, [sourceOf(event)]) };
            return { kind: "wait", offset: event.record.offset, failure: failed, fields: state.lastFailure };
          }
          state.retry = undefined;
          culprit = null;
          from += 1;
          end = prepared.length;
          continue;
        }
        default:
          throw new Error(`the failure policy answered ${decision.kind} for a single event`);
      }
    }
    const to = Math.min(end, culprit ? culprit.pos : prepared.length, from + state.size.limit);
    const applied = await applyRange(prepared, from, to, attemptAt(from), deps);
    if (applied.ok) {
      state.size = afterCommit(state.size, applied.events, deps.maxTransactionSize);
      state.contended = 0;
      if (retrying && state.retry === retrying && to > 0 && BigInt(offsetAt(to - 1)) >= BigInt(retrying.offset)) state.retry = undefined;
      from = to;
      if (from >= end) end = prepared.length;
      continue;
    }
    const { failure, positions } = applied;
    state.lastFailure = {
      at: Date.now(),
      offset: offsetAt(from),
      ...failureFields(
        failure,
        positions.map((p) => sourceOf(prepared[p] as EventItem)),
      ),
    };
    // A failure while stopping says nothing about the events: leave them to the next owner.
    if (deps.signal.aborted) throw failure.error;
    if (positions.length === 1) {
      const pos = positions[0]!;
      culprit = { pos, failure, attempt: attemptAt(pos), firstAttemptAt: firstAttemptAt(pos) };
      continue;
    }
    const culpritKnown = applied.index >= 0;
    const decision = decide(failure, { events: positions.length, culpritKnown, attempt: 1, contended: state.contended }, deps.handler.retry, random);
    switch (decision.kind) {
      case "wait":
        return { kind: "wait", offset: offsetAt(from), failure, fields: state.lastFailure };
      case "shrink":
        state.size = afterContention(state.size, positions.length);
        state.contended++;
        deps.contention?.contended(failure);
        deps.log.info("transaction:contended", {
          partition: `${prepared[from]!.record.topic}:${prepared[from]!.record.partition}`,
          events: positions.length,
          nextSize: state.size.limit,
          retryInMs: decision.delayMs,
          ...withoutTime(state.lastFailure),
        });
        await sleep(decision.delayMs, deps.signal);
        continue;
      case "isolate": {
        const pos = positions[applied.index]!;
        culprit = { pos, failure, attempt: attemptAt(pos), firstAttemptAt: firstAttemptAt(pos) };
        continue;
      }
      case "bisect":
        end = positions[Math.floor(positions.length / 2)]!;
        continue;
      default:
        throw new Error(`the failure policy answered ${decision.kind} for ${positions.length} events`);
    }
  }
  return { kind: "done" };
}

type RangeResult = { ok: true; events: number } | { ok: false; failure: Failure; positions: number[]; index: number };

/** Applies prepared[from, to) in one transaction; its rejected records are dead-lettered inside it. */
async function applyRange(prepared: PreparedEvent[], from: number, to: number, attempt: number, deps: BatchDeps): Promise<RangeResult> {
  const slice = prepared.slice(from, to);
  const events: UnitEvent[] = [];
  const positions: number[] = [];
  slice.forEach((p, i) => {
    if (p.kind === "event") {
      // A prepared event is a unit event already (meta and value): no wrapper per event.
      events.push(p);
      positions.push(from + i);
    }
  });
  const last = slice[slice.length - 1]!.record;
  const result = await (deps.applyUnit ?? applyUnit)(
    events,
    deps.offsetsByCaller ? null : { topic: last.topic, partition: last.partition, offset: nextOf(last) },
    {
      sql: deps.sql,
      handler: deps.handler,
      groupId: deps.groupId,
      log: deps.log,
      attempt,
      signal: deps.signal,
      serialized: deps.contention?.serialized() ?? false,
      ...(deps.faults ? { faults: deps.faults } : {}),
      ...(deps.outbox ? { outbox: deps.outbox } : {}),
      beforeCommit: (results) => {
        const letters: OutgoingRecord[] = [];
        const now = new Date();
        for (const p of slice) {
          if (p.kind === "rejected") {
            letters.push(
              letter(
                sourceRecordOf(p),
                {
                  reason: p.reason,
                  eventId: p.eventId,
                  errorClass: "DecodeError",
                  errorCode: p.code,
                  errorMessage: p.message,
                  failedAt: now,
                  ...(p.deadLetterFor ? { deadLetterFor: p.deadLetterFor } : {}),
                },
                deps,
              ),
            );
          }
        }
        results.forEach((r, i) => {
          const meta = events[i]!.meta;
          const record = sourceRecordOf(prepared[positions[i]!]!);
          if (r.kind === "functional-duplicate") {
            letters.push(
              letter(record, { reason: "functional-duplicate", eventId: meta.id, heldBy: r.heldBy, businessKey: r.businessKey, failedAt: now }, deps),
            );
          } else if (r.kind === "key-rejected") {
            const e = r.error;
            letters.push(
              letter(record, { reason: e.reason, eventId: meta.id, errorClass: e.name, errorCode: e.code, errorMessage: e.message, failedAt: now }, deps),
            );
          }
        });
        return letters.length > 0 ? publishDeadLetters(letters, deps) : undefined;
      },
    },
  );
  if (!result.ok) return { ok: false, failure: { error: result.failure.error, source: result.failure.source }, positions, index: result.failure.index };
  deps.onCommitted(nextOf(last));
  if (deps.onEvent) for (let i = 0; i < result.results.length; i++) deps.onEvent(result.results[i]!, (prepared[positions[i]!] as EventItem).record);
  for (const p of slice) if (p.kind === "rejected") deps.onEvent?.({ kind: "dead-lettered", reason: p.reason }, p.record);
  return { ok: true, events: events.length };
}

/**
 * Tries the events after `pos` alone, in transactions that roll back, until they say whether the
 * failure at `pos` is its own or every event's (failure/systemic.ts). Duplicates say nothing.
 */
async function probeFollowing(prepared: PreparedEvent[], pos: number, failure: Failure, deps: BatchDeps): Promise<"event" | "systemic"> {
  const probes: Probe[] = [];
  const candidates = deps.probeAlso ? [...prepared, ...deps.probeAlso] : prepared;
  for (let p = pos + 1; p < candidates.length && verdictOf(failure, probes) === "undecided"; p++) {
    const item = candidates[p]!;
    if (item.kind !== "event") continue;
    const result = await (deps.applyUnit ?? applyUnit)([{ meta: item.meta, value: item.value }], null, {
      sql: deps.sql,
      handler: deps.handler,
      groupId: deps.groupId,
      log: deps.log,
      attempt: 1,
      signal: deps.signal,
      serialized: deps.contention?.serialized() ?? false,
      dryRun: true,
      ...(deps.outbox ? { outbox: deps.outbox } : {}),
    });
    if (!result.ok) probes.push({ kind: "failed", failure: { error: result.failure.error, source: result.failure.source } });
    else if (result.results[0]?.kind === "applied") probes.push({ kind: "applied" });
  }
  const verdict = verdictOf(failure, probes) === "undecided" ? finalVerdict(failure, probes) : verdictOf(failure, probes);
  deps.log.info("event:failure-probed", {
    ...eventFields(prepared[pos] as EventItem),
    verdict,
    probes: probes.length,
    ...failureFields(failure, [sourceOf(prepared[pos] as EventItem)]),
  });
  return verdict === "systemic" ? "systemic" : "event";
}

/** A partition's last failure as log fields: its offset and what failed, not when. */
const withoutTime = (last: PartitionState["lastFailure"]) => {
  if (!last) return {};
  const { at: _at, ...fields } = last;
  return fields;
};
