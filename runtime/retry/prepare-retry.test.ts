import { expect, test } from "bun:test";
import type { KafkaRecord } from "../kafka/port.ts";
import { buildRetryRecord } from "./envelope.ts";
import { prepareRetryRecord } from "./prepare-retry.ts";

const options = { eventIdHeader: "event-id", missingEventId: "derive" as const, format: "json" as const };
const origin: KafkaRecord = { topic: "orders", partition: 1, offset: "17", key: Buffer.from("k"), value: Buffer.from('{"n":1}'), headers: {}, timestamp: 99 };

const readBack = (headers: Record<string, string | Buffer>): KafkaRecord => ({
  topic: "orders.totals.retry.1",
  partition: 1,
  offset: "3",
  key: Buffer.from("k"),
  value: Buffer.from('{"n":1}'),
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
  timestamp: 500,
});

test("a retry is the same event: the source's coordinates and id (even a derived one), the retry's offset to commit", () => {
  const out = buildRetryRecord(origin, { topic: "orders.totals.retry.1", attempt: 2, dueAt: 1_000, firstAttemptAt: 10, history: [] });
  const prepared = prepareRetryRecord(readBack(out.headers!), "orders", options);
  if (prepared.kind !== "event") throw new Error(`rejected: ${JSON.stringify(prepared)}`);
  expect(prepared.meta).toMatchObject({ id: "orders/1/17", topic: "orders", partition: 1, offset: "17", timestamp: 99 });
  expect(prepared.meta.headers["ferry-retry-attempt"]).toBe("2");
  expect(prepared.record.offset).toBe("3");
  expect(prepared.retry).toMatchObject({ attempt: 2, dueAt: 1_000 });
  expect(prepared.value).toEqual({ n: 1 });
});

test("a record in a retry topic without Ferry's headers goes to the source's dead letter topic", () => {
  const prepared = prepareRetryRecord(readBack({ "event-id": "e-1" }), "orders", options);
  expect(prepared).toMatchObject({ kind: "rejected", reason: "malformed-retry-record", deadLetterFor: "orders" });
});
