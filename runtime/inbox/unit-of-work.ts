import { setTimeout as sleep } from "node:timers/promises";
import type { Sql, TransactionSql } from "postgres";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { drizzleOver } from "../db/connect.ts";
import { translateDatabaseError } from "../db/errors.ts";
import { saveOffset } from "../db/sql/offsets.ts";
import { limitTransactionTimes, markDeadLettered, reopenDeadLettered, serializeHandler } from "../db/sql/inbox.ts";
import { keepSessionTalking } from "../db/sql/session.ts";
import { coerceError, DatabaseError, HandlerTimeoutError, KafkaError, PermanentError, PublishError } from "../errors.ts";
import type { FailureSource } from "../failure/policy.ts";
import type { FaultInjector } from "../faults/inject.ts";
import { finishedWithin } from "../finished-within.ts";
import type { BatchContext, HandlerContext } from "../handlers/contract.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { TopicPartitionOffset } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import type { OutboxCall, OutboxWriter } from "../outbox/writer.ts";
import { claimEvents } from "./claim.ts";
import { APPLIED, type EventResult, TECHNICAL_DUPLICATE, type UnitEvent } from "./unit-event.ts";

export interface UnitFailure {
  source: FailureSource;
  /** The event the handler failed on; -1 when unknown (a batch handler, or a statement of Ferry's). */
  index: number;
  /** Translated at the adapter: a database failure is a DatabaseError with its category. */
  error: Error;
}

/** Committed (`results` per event), or rolled back with nothing written. */
export type UnitResult = { ok: true; results: EventResult[] } | { ok: false; failure: UnitFailure };

export interface UnitOfWorkOptions {
  sql: Sql;
  handler: LoadedHandler;
  groupId: string;
  log: Logger;
  attempt: number;
  signal: AbortSignal;
  /**
   * Runs inside the transaction after the handler's effects and before COMMIT, with every
   * event's result. Dead letters are produced here: they must be acknowledged before the
   * offset that skips their event can commit. Returns undefined when there is nothing to wait for.
   */
  beforeCommit?(results: EventResult[]): Promise<void> | undefined;
  /** Replaying dead letters: their inbox rows marked dead-lettered no longer count as "seen". */
  reopenDeadLettered?: boolean;
  /** Test-only fault injection (FERRY_FAULT_INJECT): the "handler" point fires after each handler call. */
  faults?: FaultInjector;
  /** Run everything, then roll back: what would happen, with nothing written. */
  dryRun?: boolean;
  /** How long past its limits a transaction may take before it is abandoned (default 10 s). */
  graceMs?: number;
  /** How long the open transaction waits for Kafka to acknowledge its dead letters before it rolls back (default 60 s). */
  deadLetterWaitMs?: number;
  /** Run after every other transaction of this handler, not beside them (a contended handler). */
  serialized?: boolean;
  /** Where `ctx.publish` writes; absent, publishing fails at the call. */
  outbox?: OutboxWriter;
}

const noOutbox: OutboxCall = {
  publish: (topic) => {
    throw new PublishError(`publish to ${topic}: this worker has no outbox`);
  },
  settle: async () => 0,
  written: () => [],
  close: () => {},
};

class DryRunRollback extends Error {
  constructor(readonly results: EventResult[]) {
    super("dry run: rolled back");
  }
}

/** Unwinds the transaction carrying where the failure came from. */
class StageFailed extends Error {
  constructor(
    readonly source: FailureSource,
    readonly index: number,
    readonly error: unknown,
  ) {
    super(`${source} failed`);
  }
}

const stage =
  (source: FailureSource) =>
  (e: unknown): never => {
    throw e instanceof StageFailed ? e : new StageFailed(source, -1, e);
  };

/**
 * Applies events of ONE partition, in offset order, in ONE transaction: inbox rows (technical
 * dedup), business keys (functional dedup), the handler's effects and the partition's next
 * offset. Ferry's own writes are set-based and pipelined: a few round trips per batch, not per
 * event. `position` is written even when every event turns out to be a duplicate.
 *
 * Never throws for a failure: it says where the failure came from and which event the handler
 * failed on, and the failure policy decides.
 */
export async function applyUnit(events: UnitEvent[], position: TopicPartitionOffset | null, options: UnitOfWorkOptions): Promise<UnitResult> {
  const { sql, handler, groupId } = options;
  // Where the unit is, for the deadline: a unit that does not settle says which step it waited on.
  let step = "begin";
  let expire: (error: Error) => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number) => {
    clearTimeout(deadline);
    deadline = setTimeout(() => {
      options.log.warn("unit:abandoned", { handler: handler.name, step, waitedMs: ms, events: events.length, ...(position ?? {}) });
      expire(
        new DatabaseError(
          `PostgreSQL did not settle the transaction within ${ms} ms (waiting on: ${step}); it is abandoned and its events retried`,
          "connection",
          {
            code: "UNIT_DEADLINE",
            retriable: true,
          },
        ),
      );
    }, ms);
    deadline.unref?.();
  };
  const graceMs = options.graceMs ?? UNIT_GRACE_MS;
  // Ferry's statements and the handler may each run up to the handler's time limit.
  arm(2 * handler.timeoutMs + graceMs);
  // Closed once the transaction ended: a stray publish after it is refused, never dropped unseen.
  let opened: OutboxCall | undefined;
  try {
    const transaction = sql.begin(async (tx) => {
      step = "ferry statements";
      const results: EventResult[] = new Array<EventResult>(events.length).fill(TECHNICAL_DUPLICATE);
      // Ferry's own statements go out together (pipelined: one round trip) and are all answered
      // before the handler runs, so a failure of ours is never taken for the handler's. The first
      // to fail is the cause (answers come in the order sent; later ones only echo the abort), and
      // it is not waited past: on a killed connection the driver may never settle the others.
      // Between two statements the transaction is silent at most for a handler's call (its time
      // limit) and Ferry's own steps: past that, its client is frozen or gone, and PostgreSQL ends
      // the session so the partitions' next owner does not wait on the rows it holds.
      const timeout = limitTransactionTimes(tx, { statementMs: handler.timeoutMs, idleMs: handler.timeoutMs + SILENCE_GRACE_MS }).catch(stage("ferry"));
      // Before the claim, so every lock the rest takes is taken inside the handler's turn.
      const turn = options.serialized ? serializeHandler(tx, handler.name).catch(stage("ferry")) : undefined;
      const reopen =
        options.reopenDeadLettered && events.length > 0
          ? reopenDeadLettered(
              tx,
              handler.name,
              events.map((e) => e.meta.id),
            ).catch(stage("ferry"))
          : undefined;

      const claiming = claimEvents(tx, handler, events, results).catch(stage("claim"));
      const offset = position ? saveOffset(tx, groupId, position).catch(stage("ferry")) : undefined;
      const [, , , { runnable, deadLettered }] = await Promise.all([timeout, turn, reopen, claiming, offset]);
      // Sent ahead of the handler's first statement, not awaited on its own: checked when the handler fails.
      const marking = deadLettered.length > 0 ? markDeadLettered(tx, handler.name, deadLettered) : undefined;
      marking?.catch(() => undefined);
      const oursFailed = async () => {
        // A failed statement of ours aborts the transaction, and then the handler's fail too: not its fault.
        if (marking) await marking.catch(stage("ferry"));
      };
      step = "handler";
      const outbox = (opened = options.outbox?.open(tx, handler, groupId) ?? noOutbox);
      let db: PostgresJsDatabase | undefined;
      const base: BatchContext = {
        sql: tx,
        get db() {
          return (db ??= drizzleOver(tx, sql));
        },
        log: options.log.child({ handler: handler.name }),
        attempt: options.attempt,
        signal: options.signal,
        permanent: (message, opts) => new PermanentError(message, opts),
        publish: (topic, value, opts) => outbox.publish(topic, value, opts, undefined),
      };
      if (handler.apply.kind === "batch") {
        if (runnable.length > 0) {
          const handleBatch = handler.apply.handleBatch;
          try {
            await withTimeout(handler.timeoutMs, base, options.signal, (ctx) =>
              handleBatch(
                runnable.map((i) => ({ value: events[i]!.value, event: events[i]!.meta })),
                ctx,
              ),
            );
            await outbox.settle();
          } catch (error) {
            await oursFailed();
            // Which event failed is unknown unless there is only one: the policy narrows it down.
            throw new StageFailed("handler", runnable.length === 1 ? runnable[0]! : -1, error);
          }
          options.faults?.("handler");
          for (const i of runnable) results[i] = APPLIED;
        }
      } else {
        const handle = handler.apply.handle;
        let spokeAt = performance.now();
        for (const index of runnable) {
          const event = events[index]!;
          // The limits are each call's, not the unit's: many quick calls may add up past them.
          arm(2 * handler.timeoutMs + graceMs);
          // Calls that never use ctx.sql leave the transaction silent for their sum: a word to
          // PostgreSQL now and then keeps it from taking the unit for a frozen client.
          if (performance.now() - spokeAt > KEEP_TALKING_MS) {
            await keepSessionTalking(tx).catch(stage("ferry"));
            spokeAt = performance.now();
          }
          const ctx: HandlerContext = Object.assign(Object.create(base) as BatchContext, {
            event: event.meta,
            log: base.log.child({ eventId: event.meta.id }),
            publish: (topic: string, value: unknown, opts?: Parameters<BatchContext["publish"]>[2]) => outbox.publish(topic, value, opts, event.meta),
          });
          try {
            await withTimeout(handler.timeoutMs, ctx, options.signal, (c) => handle(event.value, c));
          } catch (error) {
            await oursFailed();
            throw new StageFailed("handler", index, error);
          }
          options.faults?.("handler");
          results[index] = APPLIED;
        }
        try {
          // What the calls published, in one statement: a refusal (a value PostgreSQL cannot store)
          // is a handler's; which one is found by narrowing the unit down, as for handleBatch.
          await outbox.settle();
        } catch (error) {
          await oursFailed();
          throw new StageFailed("handler", runnable.length === 1 ? runnable[0]! : -1, error);
        }
      }
      step = "marking";
      await marking?.catch(stage("ferry"));
      step = "dead letters";
      // Kafka's to answer, not PostgreSQL's: the unit's deadline stops here. But the transaction
      // is open and holds its locks meanwhile: an acknowledgement that never comes must not hold a
      // partition, here or on the replica it moved to. Past the wait it rolls back and is retried
      // (the letters may then go out twice).
      clearTimeout(deadline);
      const waitMs = options.deadLetterWaitMs ?? DEAD_LETTER_WAIT_MS;
      let letters: Promise<unknown> | undefined;
      try {
        letters = options.beforeCommit?.(results)?.catch(stage("dead-letter"));
      } catch (e) {
        throw new StageFailed("dead-letter", -1, e);
      }
      let answered = true;
      if (letters) {
        // While Kafka answers, the unit keeps talking to PostgreSQL: the wait may outlast the limit
        // on silence, and a frozen worker's wait must not (it would hold the partition that long).
        const quiet = new AbortController();
        const talking = talkUntil(tx, quiet.signal);
        answered = await finishedWithin(letters, waitMs).finally(() => quiet.abort());
        // No word of its own in flight when COMMIT or ROLLBACK goes out.
        await talking;
      }
      if (!answered) {
        const error = new KafkaError(`Kafka did not acknowledge the dead letters within ${waitMs} ms: the transaction rolls back and the events are retried`, {
          code: "unanswered",
          retriable: true,
        });
        throw new StageFailed("dead-letter", -1, error);
      }
      if (options.dryRun) throw new DryRunRollback(results);
      step = "commit";
      arm(graceMs);
      return { results, published: await outbox.settle() };
    });
    // The driver can leave a transaction unsettled when its connection dies (porsager/postgres#1186):
    // past the deadline the unit is given up as the environment's failure, so its partition retries
    // on a fresh transaction instead of waiting forever. The abandoned one can only roll back.
    transaction.catch(() => undefined);
    const { results, published } = await Promise.race([transaction, expired]);
    if (published > 0) {
      options.faults?.("outbox-committed");
      options.outbox?.committed(opened?.written() ?? []);
    }
    return { ok: true, results };
  } catch (e) {
    if (e instanceof DryRunRollback) return { ok: true, results: e.results };
    // Anything not raised inside a stage failed in BEGIN or COMMIT: Ferry's.
    const failed = e instanceof StageFailed ? e : new StageFailed("ferry", -1, e);
    return { ok: false, failure: { source: failed.source, index: failed.index, error: coerceError(translateDatabaseError(failed.error)) } };
  } finally {
    clearTimeout(deadline);
    opened?.close();
  }
}

/**
 * How long past the handler's time limit a unit of work may take before it is abandoned. The
 * handler's statements are cancelled by PostgreSQL at its limit; this only catches a client that
 * never hears back.
 */
const UNIT_GRACE_MS = 10_000;
/**
 * How much longer than its longest legitimate silence (one handler call) a transaction may go
 * without a statement before PostgreSQL ends its session: room for Ferry's own steps between
 * statements and a collection pause.
 */
const SILENCE_GRACE_MS = 10_000;
/** How often a unit of per-event calls, or one waiting on Kafka, speaks to PostgreSQL at least: well inside SILENCE_GRACE_MS. */
const KEEP_TALKING_MS = 5_000;
/** librdkafka's own message timeout is 300 s; a transaction should not stay open that long. */
const DEAD_LETTER_WAIT_MS = 60_000;

/** `select 1` on the transaction every KEEP_TALKING_MS until `signal`; never rejects (a dead connection fails the COMMIT instead). */
async function talkUntil(tx: TransactionSql, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(KEEP_TALKING_MS, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return;
    const heard = await keepSessionTalking(tx).then(
      () => true,
      () => false,
    );
    if (!heard) return;
  }
}

/**
 * Runs one handler call with its own abort signal (the worker's, or the timeout's) and rejects
 * once `timeoutMs` has passed, whatever the call is doing.
 */
async function withTimeout<C extends BatchContext>(timeoutMs: number, ctx: C, stopping: AbortSignal, call: (ctx: C) => unknown): Promise<void> {
  const timeout = new AbortController();
  const bounded = Object.assign(Object.create(ctx) as C, { signal: AbortSignal.any([stopping, timeout.signal]) });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new HandlerTimeoutError(`the handler did not finish within ${timeoutMs} ms`);
      timeout.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(() => call(bounded)), expired]);
  } finally {
    clearTimeout(timer);
  }
}
