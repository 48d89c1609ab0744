/**
 * Is an event's failure its own, or would every event fail alike (a table dropped, a permission
 * revoked, a handler deployed with a bug)? Before an event that has spent its attempts is
 * dead-lettered, the events after it are tried in transactions that roll back (probes). If one of
 * them applies, or fails differently, the failure is the event's own. If they fail alike, the
 * failure cannot be narrowed to one event: the partition waits instead of dead-lettering event
 * after event. With no event after it to compare with, nothing says the failure is systemic.
 */
import type { Failure } from "./policy.ts";

/** Probes at most this many events after the failing one. */
export const MAX_PROBES = 3;

export type Probe = { kind: "applied" } | { kind: "failed"; failure: Failure };

/** The same failure: same origin, same error class, same code. Messages differ with the data. */
export function alike(a: Failure, b: Failure): boolean {
  const code = (f: Failure) => (f.error as { code?: unknown }).code;
  return a.source === b.source && a.error.name === b.error.name && code(a) === code(b);
}

/** "event" as soon as a probe says so, "systemic" once every probe (at least one) failed alike. */
export function verdictOf(failure: Failure, probes: Probe[]): "event" | "systemic" | "undecided" {
  for (const probe of probes) {
    if (probe.kind === "applied" || !alike(failure, probe.failure)) return "event";
  }
  return probes.length >= MAX_PROBES ? "systemic" : "undecided";
}

/** When the events to probe ran out: alike failures so far make it systemic, none leave it the event's. */
export function finalVerdict(failure: Failure, probes: Probe[]): "event" | "systemic" {
  const verdict = verdictOf(failure, probes);
  if (verdict !== "undecided") return verdict;
  return probes.length > 0 ? "systemic" : "event";
}
