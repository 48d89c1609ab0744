import { expect, test } from "bun:test";
import type { KafkaRecord } from "../kafka/port.ts";
import { buildRetryRecord, type FailedAttempt, readRetryEnvelope } from "./envelope.ts";

const origin: KafkaRecord = {
  topic: "orders",
  partition: 2,
  offset: "41",
  key: Buffer.from("k1"),
  value: Buffer.from('{"n":1}'),
  headers: { "event-id": Buffer.from("e-1"), traceparent: Buffer.from("00-abc") },
  timestamp: 1_700_000_000_000,
};
const first: FailedAttempt = { attempt: 1, failedAt: 1_000, errorClass: "TypeError", error: "boom" };

/** What a consumer reads back: header values as bytes. */
const asRead = (out: ReturnType<typeof buildRetryRecord>, offset = "7"): KafkaRecord => ({
  topic: out.topic,
  partition: out.partition!,
  offset,
  key: out.key as Buffer,
  value: out.value as Buffer,
  headers: Object.fromEntries(Object.entries(out.headers!).map(([k, v]) => [k, Buffer.from(v)])),
  timestamp: 5,
});

test("a retry record keeps the event's key, value, headers and partition, and says its attempt, due time and last error", () => {
  const out = buildRetryRecord(origin, { topic: "orders.totals.retry.1", attempt: 2, dueAt: 6_000, firstAttemptAt: 900, history: [first] });
  expect(out).toMatchObject({ topic: "orders.totals.retry.1", partition: 2, key: origin.key, value: origin.value });
  expect(out.headers).toMatchObject({
    "event-id": origin.headers["event-id"],
    traceparent: origin.headers.traceparent,
    "ferry-retry-attempt": "2",
    "ferry-retry-due-at": "6000",
    "ferry-retry-source-topic": "orders",
    "ferry-retry-source-partition": "2",
    "ferry-retry-source-offset": "41",
    "ferry-retry-error-class": "TypeError",
    "ferry-retry-error-message": "boom",
  });
});

test("read back, the envelope gives the event as it was on its source topic and every attempt so far", () => {
  const second: FailedAttempt = { attempt: 2, dueAt: 6_000, failedAt: 6_010, errorClass: "Error", errorCode: "E1", error: "again" };
  const once = asRead(buildRetryRecord(origin, { topic: "orders.totals.retry.1", attempt: 2, dueAt: 6_000, firstAttemptAt: 900, history: [first] }));
  const read1 = readRetryEnvelope(once);
  if ("problem" in read1) throw new Error(read1.problem);
  // A second hop rebuilds the headers from the origin: no stale retry headers pile up.
  const twice = asRead(
    buildRetryRecord(read1.origin, { topic: "orders.totals.retry.2", attempt: 3, dueAt: 9_000, firstAttemptAt: 900, history: [...read1.history, second] }),
  );
  const read2 = readRetryEnvelope(twice);
  if ("problem" in read2) throw new Error(read2.problem);
  expect(read2).toEqual({
    attempt: 3,
    dueAt: 9_000,
    firstAttemptAt: 900,
    origin: { ...origin, headers: { "event-id": Buffer.from("e-1"), traceparent: Buffer.from("00-abc") } },
    history: [first, second],
  });
});

test("a record in a retry topic that Ferry did not write is refused, naming what it lacks", () => {
  const read = readRetryEnvelope({ ...origin, headers: { "event-id": Buffer.from("e-1"), "ferry-retry-attempt": Buffer.from("1") } });
  expect("problem" in read && read.problem).toContain("ferry-retry-attempt, ferry-retry-due-at");
});

test("error messages in the headers are bounded", () => {
  const out = buildRetryRecord(origin, {
    topic: "t",
    attempt: 2,
    dueAt: 1,
    firstAttemptAt: 1,
    history: [{ ...first, error: "x".repeat(5_000) }],
  });
  expect(String(out.headers!["ferry-retry-error-message"]).length).toBe(300);
  expect(String(out.headers!["ferry-retry-history"]).length).toBeLessThan(400);
});
