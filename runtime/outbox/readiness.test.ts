import { expect, test } from "bun:test";
import { outboxReadinessReason } from "./readiness.ts";

test.each([
  ["no backlog read", undefined, undefined],
  ["an empty outbox", { rows: 0, oldestMs: 0 }, undefined],
  ["a backlog younger than the limit", { rows: 120, oldestMs: 59_000 }, undefined],
  [
    "a backlog older than the limit",
    { rows: 3, oldestMs: 61_400 },
    "the outbox has 3 unsent event(s), the oldest 61 s old (over FERRY_OUTBOX_READY_AGE_MS=60000): the relay cannot send them (see outbox:waiting in the log)",
  ],
])("%s: %p", (_, backlog, reason) => {
  expect(outboxReadinessReason(backlog, 60_000)).toBe(reason);
});
