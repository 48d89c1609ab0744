/**
 * Ferry's one failure policy: what happens after something failed while applying events. Pure —
 * the orchestration (consume/process-batch.ts) does the waiting and the I/O, and every failure
 * path goes through `decide`: the handler's errors, Ferry's own statements, decoding, business
 * keys, producing dead letters.
 *
 * Three questions, in order:
 * 1. Whose fault is it (`judge`)? The environment's (database or broker down, a deploy problem):
 *    wait, spend nothing, dead-letter nothing. Contention's (deadlock, serialization failure):
 *    retry, spend nothing, make transactions smaller. The event's: it can be dead-lettered, at
 *    once when retrying cannot help (`final`), after its attempts otherwise.
 * 2. Is the culprit known? A failure of a transaction holding several events is narrowed down to
 *    one event first: isolated when the handler said which event failed, bisected otherwise. A
 *    failure with no event to blame (the whole batch fails alike) waits like the environment's.
 * 3. For one event: retry after a backoff (in place, the partition waiting) or through a retry
 *    topic (`retry: { mode: "topics" }`: the partition moves on), or dead-letter with a reason.
 */
import {
  BusinessKeyError,
  DatabaseError,
  type DatabaseErrorCategory,
  DecodeError,
  HandlerTimeoutError,
  InfrastructureError,
  KafkaError,
  PermanentError,
  RecordTooLargeError,
} from "../errors.ts";
import type { DeadLetterReason } from "../dlt/dead-letter.ts";
import type { RetryPlan } from "../handlers/retry-option.ts";

/** Where a failure came from. */
export type FailureSource =
  /** The handler's call: its own code and its statements. */
  | "handler"
  /** Ferry's claim of inbox rows and business keys: the only Ferry statement holding event data (the key). */
  | "claim"
  /** Ferry's other statements (offsets, inbox marks), BEGIN and COMMIT. */
  | "ferry"
  /** Producing dead letters before the transaction commits. */
  | "dead-letter"
  /** Producing an event to its retry topic before the offset past it commits. */
  | "retry-topic"
  /** Reading writer schemas from the registry before decoding. */
  | "registry"
  /**
   * The outbox relay sending committed events (outbox/relay.ts). Each was checked at its publish,
   * but its topic's own limits are Kafka's to apply: a record Kafka refuses for what it is is the
   * event's fault (narrowed down, then set aside, never dead-lettered); a refused topic holds that
   * topic's events; anything else is waited out.
   */
  | "relay";

export interface Failure {
  /** As translated at the adapters: DatabaseError, KafkaError, DecodeError, ... or the handler's own. */
  error: Error;
  source: FailureSource;
}

export type Verdict =
  | { fault: "environment" }
  | { fault: "contention" }
  /** `final`: retrying the same event cannot help, dead-letter it as soon as it is the only one. */
  | { fault: "event"; final: true; reason: DeadLetterReason }
  | { fault: "event"; final: false }
  /** Kafka refuses the destination topic whatever is sent to it (missing, not writable): only its events wait. */
  | { fault: "destination" };

const environment: Verdict = { fault: "environment" };
const contention: Verdict = { fault: "contention" };
const eventRetriable: Verdict = { fault: "event", final: false };
const eventFinal = (reason: DeadLetterReason): Verdict => ({ fault: "event", final: true, reason });

/** What PostgreSQL's refusal means, by category and by whose statement it was. */
function judgeDatabase(category: DatabaseErrorCategory, source: FailureSource): Verdict {
  switch (category) {
    case "connection":
    case "resources":
    case "unavailable":
    case "system":
      return environment;
    case "program":
      // A handler's statement that cannot run (a missing table, no permission) may be this
      // event's doing (a table named by the event) or every event's (a deploy problem): its
      // attempts are spent, then the probes tell (failure/systemic.ts). On Ferry's own tables, a deploy problem.
      return source === "handler" ? eventRetriable : environment;
    case "contention":
      return contention;
    case "canceled":
      // The handler's statements run under its timeout: past it, a failed attempt. Ferry's own
      // statements only run that long waiting for a lock held from outside (a migration, an
      // operator): smaller transactions would not help, waiting does.
      return source === "handler" ? eventRetriable : environment;
    case "data":
    case "limit":
      // Deterministic: the same values are refused again. In the claim the only value an event
      // controls is its business key.
      if (source === "claim") return eventFinal("unstorable-business-key");
      return eventFinal("rejected-by-database");
    case "integrity":
    case "transaction":
    case "other":
      // A handler's constraint may be satisfied later (a foreign key); Ferry's own statements
      // never break one by an event's doing, so that is not the event's fault.
      return source === "handler" ? eventRetriable : environment;
  }
}

/** Whose fault a failure is. */
export function judge({ error, source }: Failure): Verdict {
  if (error instanceof DatabaseError) return judgeDatabase(error.category, source);
  if (error instanceof DecodeError) return eventFinal("decode-failed");
  if (error instanceof BusinessKeyError) return eventFinal(error.reason);
  if (error instanceof PermanentError) return eventFinal("permanent");
  if (error instanceof HandlerTimeoutError) return eventRetriable;
  // Its retry record (the value and the attempts' headers) is larger than Kafka takes: no retry
  // can carry this event, and waiting would hold its partition for ever. Its dead letter can
  // (a letter too large goes without the value).
  if (error instanceof RecordTooLargeError && source === "retry-topic") return eventFinal("retry-record-too-large");
  if (source === "relay") {
    // Waiting cannot make a refused record acceptable, and it would hold every published event
    // after it, of every topic: the outbox's "no event can block its partition".
    if (error instanceof RecordTooLargeError || (error instanceof KafkaError && error.refused === "record")) return eventFinal("refused-by-kafka");
    if (error instanceof KafkaError && error.refused === "topic") return { fault: "destination" };
  }
  // A dead letter that cannot be produced can never be skipped: the event would be lost.
  if (error instanceof KafkaError || error instanceof RecordTooLargeError || error instanceof InfrastructureError) return environment;
  // Anything else the handler threw is its failed attempt; anything else Ferry threw is a bug of
  // ours, and must not cost an event its place.
  return source === "handler" ? eventRetriable : environment;
}

export type Decision =
  /** The environment failed: try the same again later, nothing spent. */
  | { kind: "wait" }
  /** The outbox relay: this topic's events wait (all of them, so their order holds); the other topics' go on. */
  | { kind: "hold-topic" }
  /** Contention over several events: retry the first `size` of them alone, after `delayMs`, nothing spent. */
  | { kind: "shrink"; size: number; delayMs: number }
  /** Several events, the failing one known: apply the ones before it, then it alone. */
  | { kind: "isolate" }
  /** Several events, the failing one unknown: retry the first half of them. */
  | { kind: "bisect" }
  /** One event: try it again after `delayMs`; `spendsAttempt` false for contention. */
  | { kind: "retry"; delayMs: number; spendsAttempt: boolean }
  /**
   * One event, retry topics: send it to the retry topic of `stage` (1-based), due `delayMs` from
   * now, and move its partition on. Acknowledged by Kafka before the offset past it commits.
   */
  | { kind: "retry-topic"; stage: number; delayMs: number }
  /**
   * Dead-letter one event. `unlessSystemic`: its attempts are spent on a failure that may be
   * every event's: probe the events after it first (failure/systemic.ts), and wait if they fail alike.
   */
  | { kind: "dead-letter"; reason: DeadLetterReason; unlessSystemic?: boolean };

export interface FailureScope {
  /** Events the failed transaction held (0: only records dead-lettered before the handler). */
  events: number;
  /** Whether the failing event is known (the per-event handler failed on it). */
  culpritKnown: boolean;
  /** The number of the attempt that just failed, 1-based (single events only). */
  attempt: number;
  /** Contention failures in a row for this partition. */
  contended: number;
}

export function decide(failure: Failure, scope: FailureScope, retry: RetryPlan, random: () => number = Math.random): Decision {
  const verdict = judge(failure);
  if (verdict.fault === "environment") return { kind: "wait" };
  if (verdict.fault === "destination") return { kind: "hold-topic" };
  if (verdict.fault === "contention") {
    const delayMs = contentionDelay(scope.contended, random);
    if (scope.events > 1) return { kind: "shrink", size: Math.max(1, Math.floor(scope.events / 2)), delayMs };
    return { kind: "retry", delayMs, spendsAttempt: false };
  }
  // The event's fault, but no event to blame: the whole batch fails alike.
  if (scope.events === 0) return { kind: "wait" };
  if (scope.events > 1) return scope.culpritKnown ? { kind: "isolate" } : { kind: "bisect" };
  if (verdict.final) return { kind: "dead-letter", reason: verdict.reason };
  if (retry.mode === "topics") {
    // Attempt n failed: stage n holds attempt n + 1. No probes (failure/systemic.ts) in this mode:
    // a last stage's neighbours are failed events by selection, so they would fail "alike" and
    // stall it; and probing at the source would stall it on a few failing events in a row, the
    // very thing this mode exists to avoid. A failure every event shares (a deploy problem) is
    // dead-lettered after the last delay here, for replay; the environment's still waits.
    const delayMs = retry.delaysMs[scope.attempt - 1];
    if (delayMs === undefined) return { kind: "dead-letter", reason: "retry-topics-exhausted" };
    return { kind: "retry-topic", stage: scope.attempt, delayMs };
  }
  if (scope.attempt >= retry.attempts) return { kind: "dead-letter", reason: "exhausted", unlessSystemic: true };
  return { kind: "retry", delayMs: backoffDelay(scope.attempt, retry, random), spendsAttempt: true };
}

/** Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, policy: { backoffMs: number; maxBackoffMs: number }, random: () => number): number {
  const exponential = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** Short and random: two transactions that deadlocked must not meet again in step. Up to 1 s. */
export function contentionDelay(contended: number, random: () => number): number {
  return Math.round(Math.min(1_000, 10 * 2 ** Math.min(contended, 7)) * (0.5 + random()));
}

/** How long a partition waits for the environment after `outages` failures in a row: 0.5 s doubling to 30 s. */
export function waitDelay(outages: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(Math.max(outages - 1, 0), 6));
}
