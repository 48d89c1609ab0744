import { expect, test } from "bun:test";
import type { KafkaRecord } from "../kafka/port.ts";
import { buildDeadLetter, parseDeadLetter, withoutValue } from "./dead-letter.ts";

const source: KafkaRecord = {
  topic: "orders",
  partition: 2,
  offset: "41",
  key: Buffer.from("k"),
  value: Buffer.from('{"orderId":"o-1"}'),
  headers: { "event-id": Buffer.from("e-9"), traceparent: Buffer.from("00-abc-def-01") },
  timestamp: 1_700_000_000_000,
};

test("a dead letter carries the original and the reason, and parses back to both", () => {
  const failedAt = new Date("2026-11-23T10:00:00Z");
  const out = buildDeadLetter(
    source,
    {
      reason: "exhausted",
      handler: "order-totals",
      eventId: "e-9",
      errorClass: "TypeError",
      errorMessage: "x".repeat(5_000),
      attempts: 5,
      firstAttemptAt: new Date("2026-11-23T09:59:00Z"),
      failedAt,
    },
    ".dlt",
  );
  expect(out.topic).toBe("orders.dlt");
  expect(String(out.headers!["ferry-error-message"]).length).toBe(2_000);
  const asRead: KafkaRecord = {
    topic: out.topic,
    partition: 0,
    offset: "7",
    key: out.key as Buffer,
    value: out.value as Buffer,
    headers: Object.fromEntries(Object.entries(out.headers!).map(([k, v]) => [k, Buffer.from(v)])),
    timestamp: 1,
  };
  const parsed = parseDeadLetter(asRead)!;
  expect(parsed).toMatchObject({
    reason: "exhausted",
    handler: "order-totals",
    eventId: "e-9",
    errorClass: "TypeError",
    attempts: 5,
    failedAt: failedAt.toISOString(),
  });
  expect(parsed.original).toEqual(source);
  expect(parsed.at).toEqual({ topic: "orders.dlt", partition: 0, offset: "7" });
});

test("a record without Ferry's headers is not a dead letter", () => {
  expect(parseDeadLetter(source)).toBeNull();
});

test("a dead letter without its value says how many bytes were left out and keeps every header", () => {
  const letter = buildDeadLetter(source, { reason: "decode-failed", handler: "order-totals", eventId: "e-9", failedAt: new Date(0) }, ".dlt");
  const trimmed = withoutValue(letter);
  expect(trimmed.value).toBeNull();
  expect(trimmed.key).toEqual(source.key);
  expect(trimmed.headers).toEqual({ ...letter.headers, "ferry-value-omitted": "17" });
});
