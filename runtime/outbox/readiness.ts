/** The /readyz reason the outbox gives, or none: its oldest unsent event is older than `readyAgeMs`. Pure. */
export function outboxReadinessReason(backlog: { rows: number; oldestMs: number } | undefined, readyAgeMs: number): string | undefined {
  // A backlog that could not be read (database down) is the dependency check's reason already.
  if (!backlog || backlog.rows === 0 || backlog.oldestMs <= readyAgeMs) return undefined;
  return `the outbox has ${backlog.rows} unsent event(s), the oldest ${Math.round(backlog.oldestMs / 1000)} s old (over FERRY_OUTBOX_READY_AGE_MS=${readyAgeMs}): the relay cannot send them (see outbox:waiting in the log)`;
}
