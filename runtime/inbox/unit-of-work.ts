import type { Sql } from "postgres";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { drizzleOver } from "../db/connect.ts";
import type { BatchContext, EventMeta, HandlerContext } from "../handlers/contract.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { HandlerTimeoutError, InfrastructureError, PermanentError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { FaultInjector } from "../faults/inject.ts";
import { claimEvents } from "./claim.ts";

/** An event that passed preparation: it has an id and a decoded value. */
export interface UnitEvent {
  meta: EventMeta;
  value: unknown;
}

export type EventResult =
  | { kind: "applied" }
  | { kind: "technical-duplicate" }
  | { kind: "functional-duplicate"; businessKey: string; heldBy: string }
  | { kind: "business-key-failed"; error: Error };

export type UnitResult =
  | { ok: true; results: EventResult[] }
  /**
   * The handler failed on `events[index]` (-1: somewhere in a batch handler's events): the
   * transaction was rolled back, nothing was written.
   */
  | { ok: false; index: number; error: unknown };

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
   * offset that skips their event can commit.
   */
  beforeCommit?(results: EventResult[]): Promise<void>;
  /** Replaying dead letters: their inbox rows marked dead-lettered no longer count as "seen". */
  reopenDeadLettered?: boolean;
  /** Test-only fault injection (FERRY_FAULT_INJECT): the "handler" point fires after each handler call. */
  faults?: FaultInjector;
  /** Run everything, then roll back: what would happen, with nothing written. */
  dryRun?: boolean;
}

class DryRunRollback extends Error {
  constructor(readonly results: EventResult[]) {
    super("dry run: rolled back");
  }
}

class HandlerFailed extends Error {
  constructor(
    readonly index: number,
    readonly error: unknown,
  ) {
    super("handler failed");
  }
}

/**
 * Applies events of ONE partition, in offset order, in ONE transaction: inbox rows (technical
 * dedup), business keys (functional dedup), the handler's effects and the partition's next
 * offset. Ferry's own writes are set-based: a few round trips per batch, not per event.
 * `nextOffset` is written even when every event turns out to be a duplicate.
 */
export async function applyUnit(
  events: UnitEvent[],
  position: { topic: string; partition: number; nextOffset: string } | null,
  options: UnitOfWorkOptions,
): Promise<UnitResult> {
  const { sql, handler, groupId } = options;
  try {
    const results = await sql.begin(async (tx) => {
      const results: EventResult[] = events.map(() => ({ kind: "technical-duplicate" }));
      // Ferry's own statements go out together (pipelined: one round trip) and are all answered
      // before the handler runs, so a failure of ours is never taken for the handler's.
      const reopen =
        options.reopenDeadLettered && events.length > 0
          ? tx`delete from ferry_inbox where handler = ${handler.name} and outcome = 'dead-lettered'
            and event_id = any(${events.map((e) => e.meta.id)}::text[])`.execute()
          : undefined;
      // Bounds every statement of this transaction, so a call past its time cannot keep the connection busy.
      const timeout = tx.unsafe(`set local statement_timeout = ${Math.floor(handler.timeoutMs)}`).execute();
      const claiming = claimEvents(tx, handler, events, results);
      const offset = position
        ? tx`insert into ferry_offsets (group_id, topic, partition, next_offset)
            values (${groupId}, ${position.topic}, ${position.partition}, ${position.nextOffset})
            on conflict (group_id, topic, partition)
            do update set next_offset = excluded.next_offset, updated_at = now()`.execute()
        : undefined;
      const [, , { runnable: keyed, deadLettered }] = await Promise.all([reopen, timeout, claiming, offset]);
      // Sent ahead of the handler's first statement, not awaited on its own: checked when the handler fails.
      const marking =
        deadLettered.length > 0
          ? tx`update ferry_inbox set outcome = 'dead-lettered' where handler = ${handler.name} and event_id = any(${deadLettered}::text[])`.execute()
          : undefined;
      const oursFailed = async (error: unknown) => {
        // A failed statement of ours aborts the transaction, and then the handler's fail too: not its fault.
        if (
          marking &&
          (await marking.then(
            () => false,
            () => true,
          ))
        )
          throw new InfrastructureError("marking functional duplicates in the inbox failed", { cause: error });
      };
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
      };
      if (handler.apply.kind === "batch") {
        if (keyed.length > 0) {
          try {
            await withTimeout(handler.timeoutMs, base, options.signal, (ctx) =>
              handler.apply.kind === "batch"
                ? handler.apply.handleBatch(
                    keyed.map((i) => ({ value: events[i]!.value, event: events[i]!.meta })),
                    ctx,
                  )
                : undefined,
            );
          } catch (error) {
            await oursFailed(error);
            // Which event failed is unknown unless there is only one: the caller narrows it down.
            throw new HandlerFailed(keyed.length === 1 ? keyed[0]! : -1, error);
          }
          options.faults?.("handler");
          for (const i of keyed) results[i] = { kind: "applied" };
        }
      } else {
        for (const index of keyed) {
          const event = events[index]!;
          const ctx: HandlerContext = Object.assign(Object.create(base) as BatchContext, {
            event: event.meta,
            log: base.log.child({ eventId: event.meta.id }),
          });
          const handle = handler.apply.handle;
          try {
            await withTimeout(handler.timeoutMs, ctx, options.signal, (c) => handle(event.value, c));
          } catch (error) {
            await oursFailed(error);
            throw new HandlerFailed(index, error);
          }
          options.faults?.("handler");
          results[index] = { kind: "applied" };
        }
      }
      await marking;
      await options.beforeCommit?.(results);
      if (options.dryRun) throw new DryRunRollback(results);
      return results;
    });
    return { ok: true, results };
  } catch (e) {
    if (e instanceof DryRunRollback) return { ok: true, results: e.results };
    if (e instanceof HandlerFailed) return { ok: false, index: e.index, error: e.error };
    // Anything else failed outside the handler (connecting, Ferry's own statements, COMMIT,
    // producing dead letters): never the event's fault.
    if (e instanceof InfrastructureError) throw e;
    throw new InfrastructureError(`the unit of work failed outside the handler: ${(e as Error)?.message ?? String(e)}`, { cause: e });
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

/**
 * The handler's business key for an event, as text. A key that is missing must not be coerced:
 * String(undefined) is "undefined", so every event lacking the field would share one key, the
 * first applied and all the others dead-lettered as its functional duplicates.
 */
export function businessKeyOf(handler: LoadedHandler, event: UnitEvent): string {
  const key: unknown = handler.businessKey!(event.value, event.meta);
  if ((typeof key === "string" && key.length > 0) || (typeof key === "number" && Number.isFinite(key)) || typeof key === "bigint") return String(key);
  const got =
    key === null
      ? "null"
      : key === ""
        ? "an empty string"
        : typeof key === "number"
          ? String(key)
          : typeof key === "string"
            ? "a string"
            : typeof key === "object"
              ? "an object"
              : typeof key;
  throw new TypeError(`businessKey returned ${got} for event ${event.meta.id}; it must return a non-empty string (or a finite number)`);
}
