/**
 * Key-level concurrency inside a partition batch: events of different keys run side by side (up
 * to the handler's `perPartition`), events of one key strictly in offset order (key-schedule.ts).
 * Each event runs alone through process-batch.ts, so its own transaction (inbox row, business key,
 * effects) and every failure go through the ONE failure policy: a retry waits only for its key
 * (the event's backoff, in place), a dead letter moves its key on, an environment failure stops
 * the batch.
 *
 * THE STORED OFFSET ONLY EVER COVERS THE CONTIGUOUS COMPLETED PREFIX (completed-prefix.ts),
 * written after the events' own commits: an event done past a gap comes again after a crash,
 * and the inbox skips it as a technical duplicate.
 */
import { setTimeout as delay } from "node:timers/promises";
import { coerceError } from "../errors.ts";
import { decide, type Failure } from "../failure/policy.ts";
import { MAX_PROBES } from "../failure/systemic.ts";
import { completedPrefix } from "./completed-prefix.ts";
import { type KeyOrder, keySchedule } from "./key-schedule.ts";
import { failureFields, newPartitionState, type PartitionState } from "./partition-state.ts";
import type { PreparedEvent } from "./prepare.ts";
import { type BatchDeps, type BatchOutcome, processPrepared } from "./process-batch.ts";
import type { Slots } from "./slots.ts";

export interface ByKeyDeps extends BatchDeps {
  concurrency: { perPartition: number; order: KeyOrder };
  /** Aborted when the partition is being revoked or the consumer drains: start no more events. */
  stopping: AbortSignal;
  /** The worker's database connections: an event attempt holds one while it runs (not while it waits out a backoff). */
  slots?: Slots;
  /** Stores the partition's next offset (only forward): the completed prefix. */
  advanceOffset(next: string): Promise<unknown>;
  /** The batch is moving: an event is done, or one starts waiting out a backoff (by design). */
  onProgress?(): void;
  /** An event waits out a backoff before its next attempt (its key waits with it). */
  onRetryScheduled?(retry: { offset: string; attempt: number; delayMs: number; failure?: PartitionState["lastFailure"] }): void;
}

/** Runs the prepared records of one partition batch by key; `deps.onCommitted` hears each new stored prefix. */
export function processByKey(prepared: PreparedEvent[], deps: ByKeyDeps, state: PartitionState): Promise<BatchOutcome> {
  const keys = prepared.map((p) => (deps.concurrency.order === "key" && p.record.key ? p.record.key.toString("latin1") : null));
  const schedule = keySchedule(keys, { order: deps.concurrency.order, limit: deps.concurrency.perPartition });
  const prefix = completedPrefix(prepared.map((p) => p.record.offset));
  const stopped = () => deps.signal.aborted || deps.stopping.aborted;
  const stopSignal = AbortSignal.any([deps.signal, deps.stopping]);
  // The first event that cannot go on without the environment: the batch stops at the prefix.
  let halted: Extract<BatchOutcome, { kind: "wait" }> | undefined;
  let broken: unknown;
  const writer = prefixWriter(deps, (failure) => {
    halted ??= waitOutcome(prepared[0]!.record.offset, failure, state);
  });

  // One event alone, until it is done (applied, a duplicate, dead-lettered) or the batch stops.
  const runOne = async (index: number): Promise<boolean> => {
    const own = newPartitionState(1);
    own.contended = state.contended;
    const eventDeps: BatchDeps = {
      ...deps,
      offsetsByCaller: true,
      onCommitted: () => {},
      probeAlso: prepared.slice(index + 1, index + 1 + MAX_PROBES),
    };
    for (;;) {
      if (stopped() || halted) return false;
      if (deps.slots && !(await deps.slots.acquire(stopSignal))) return false;
      let outcome: BatchOutcome;
      try {
        outcome = await processPrepared([prepared[index]!], eventDeps, own);
      } catch (e) {
        // A failure while stopping says nothing about the event: its next owner runs it.
        if (stopped()) return false;
        throw e;
      } finally {
        deps.slots?.release();
        if (own.lastFailure) state.lastFailure = own.lastFailure;
      }
      switch (outcome.kind) {
        case "done":
          return true;
        case "cut":
          return false;
        case "wait":
          halted ??= outcome;
          return false;
        case "retry-later":
          deps.onRetryScheduled?.({ offset: outcome.offset, attempt: (own.retry?.attempts ?? 0) + 1, delayMs: outcome.delayMs, failure: own.lastFailure });
          deps.onProgress?.();
          try {
            await delay(outcome.delayMs, undefined, { signal: stopSignal });
          } catch {
            return false;
          }
      }
    }
  };

  return new Promise<BatchOutcome>((resolve, reject) => {
    const finish = async () => {
      await writer.settled();
      if (broken !== undefined) return reject(broken);
      // What PostgreSQL holds: Kafka is offered no more (settle), so it never passes PostgreSQL.
      const offset = writer.failed ? (writer.written ?? prepared[0]!.record.offset) : prefix.next();
      if (prefix.done && !writer.failed) return resolve({ kind: "done" });
      if (halted) return resolve({ ...halted, offset });
      resolve({ kind: "cut", offset });
    };
    const pump = () => {
      while (!stopped() && !halted && broken === undefined) {
        const index = schedule.take();
        if (index === undefined) break;
        runOne(index).then(
          (completed) => {
            schedule.done(index);
            if (completed) {
              if (prefix.complete(index)) writer.offer(prefix.next());
              deps.onProgress?.();
            }
            pump();
          },
          (e: unknown) => {
            broken ??= e;
            schedule.done(index);
            pump();
          },
        );
      }
      if (schedule.running === 0) void finish();
    };
    pump();
  });
}

/** A wait for the environment at the prefix, its failure judged by the policy like any other. */
function waitOutcome(offset: string, failure: Failure, state: PartitionState): Extract<BatchOutcome, { kind: "wait" }> {
  state.lastFailure = { at: Date.now(), offset, ...failureFields(failure) };
  return { kind: "wait", offset, failure, fields: state.lastFailure };
}

/**
 * How often a batch stores its completed prefix while it runs (and once more at its end). Each
 * write is a statement of its own on a hot row: one per event cost PostgreSQL about as much as the
 * events' own transactions. A crash redelivers at most this long's events, which the inbox skips.
 */
const PREFIX_WRITE_INTERVAL_MS = 200;

/**
 * Stores the completed prefix, the newest offer each time, at most every PREFIX_WRITE_INTERVAL_MS
 * until the batch settles. A write that fails stops the batch through the failure policy (the
 * events stay applied; their offset is stored later, or they come again and the inbox skips them).
 */
function prefixWriter(deps: ByKeyDeps, onFailed: (failure: Failure) => void) {
  let wanted: string | undefined;
  let written: string | undefined;
  let failed = false;
  let settling = false;
  let writing: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, PREFIX_WRITE_INTERVAL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = async () => {
    while (wanted !== undefined && wanted !== written) {
      const next = wanted;
      try {
        await deps.advanceOffset(next);
      } catch (e) {
        const failure: Failure = { error: coerceError(e), source: "ferry" };
        // No event to blame: the policy can only answer "wait" (events: 0), and the batch stops.
        decide(failure, { events: 0, culpritKnown: false, attempt: 1, contended: 0 }, deps.handler.retry);
        failed = true;
        onFailed(failure);
        return;
      }
      written = next;
      deps.onCommitted(next);
      if (!settling) await pause();
      wake = undefined;
    }
  };
  const offer = (next: string) => {
    wanted = next;
    if (failed || writing) return;
    writing = loop().finally(() => {
      writing = undefined;
      // An offer that came while the loop was ending.
      if (!failed && wanted !== written) offer(wanted!);
    });
  };
  return {
    offer,
    /** The last prefix written; undefined before the first write. */
    get written() {
      return written;
    },
    /** A write failed: nothing more is written for this batch. */
    get failed() {
      return failed;
    },
    /** Writes what is left at once; resolves once every offer so far is written (or failed). */
    async settled() {
      settling = true;
      wake?.();
      while (writing) await writing;
    },
  };
}
