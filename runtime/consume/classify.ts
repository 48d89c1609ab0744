import { DecodeError, InfrastructureError, PermanentError } from "../errors.ts";

export type FailureOutcome =
  | { kind: "retry"; delayMs: number }
  | { kind: "dead-letter"; reason: "exhausted" | "permanent" | "decode-failed" }
  | { kind: "infrastructure" };

// postgres.js connection-level error codes, and SQLSTATE classes that mean "the database, not the event".
const connectionCodes = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const infrastructureSqlState = /^(08|53|57P|58)/; // connection, resources, operator intervention, system

/** True when an error says the database (or the network to it) failed rather than the handler. */
export function isInfrastructureFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof InfrastructureError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (connectionCodes.has(code) || infrastructureSqlState.test(code))) return true;
  }
  return false;
}

/**
 * Decides what happens after an attempt failed. Pure: the caller does the waiting and the I/O.
 * `attempt` is the number of the attempt that just failed (1-based).
 */
export function classifyFailure(
  error: unknown,
  attempt: number,
  policy: { attempts: number; backoffMs: number; maxBackoffMs: number },
  random: () => number = Math.random,
): FailureOutcome {
  if (isInfrastructureFailure(error)) return { kind: "infrastructure" };
  if (error instanceof DecodeError) return { kind: "dead-letter", reason: "decode-failed" };
  if (error instanceof PermanentError) return { kind: "dead-letter", reason: "permanent" };
  if (attempt >= policy.attempts) return { kind: "dead-letter", reason: "exhausted" };
  return { kind: "retry", delayMs: backoffDelay(attempt, policy, random) };
}

/** Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, policy: { backoffMs: number; maxBackoffMs: number }, random: () => number): number {
  const exponential = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
