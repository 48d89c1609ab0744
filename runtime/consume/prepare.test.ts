import { expect, test } from "bun:test";
import type { KafkaRecord } from "../kafka/port.ts";
import { prepareRecord } from "./prepare.ts";

const record = (headers: Record<string, string>, extra: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: "orders",
  partition: 0,
  offset: "5",
  key: null,
  value: Buffer.from('{"n":1}'),
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
  timestamp: 0,
  ...extra,
});
const options = { eventIdHeader: "event-id", missingEventId: "dead-letter", format: "json" } as const;

test.each([
  ["no event-id header", record({}), "missing-event-id"],
  ["an empty event-id header", record({ "event-id": "" }), "missing-event-id"],
  ["an event-id with a space", record({ "event-id": "a b" }), "malformed-event-id"],
  ["an event-id of 201 characters", record({ "event-id": "e".repeat(201) }), "malformed-event-id"],
  ["two different event-id headers", record({ "event-id": "b" }, { repeatedHeaders: ["event-id"] }), "malformed-event-id"],
  ["a value that is not JSON", record({ "event-id": "a" }, { value: Buffer.from("{") }), "decode-failed"],
] as const)("%s is rejected as %s", (_label, input, reason) => {
  expect(prepareRecord(input, options)).toMatchObject({ kind: "rejected", reason });
});

test("a repeated header other than the event id does not matter", () => {
  expect(prepareRecord(record({ "event-id": "a" }, { repeatedHeaders: ["traceparent"] }), options)).toMatchObject({ kind: "event", meta: { id: "a" } });
});

test("a Kafka key is text only when it is valid UTF-8: a binary key never takes the form of another record's text key", () => {
  const binary = Buffer.from([0xc3, 0x28, 0xff]); // base64 "wyj/": once the text a binary key was given as
  const textual = prepareRecord(record({ "event-id": "a" }, { key: Buffer.from(binary.toString("base64")) }), options);
  const raw = prepareRecord(record({ "event-id": "b" }, { key: binary }), options);
  expect(textual).toMatchObject({ kind: "event", meta: { key: "wyj/" } });
  expect(raw).toMatchObject({ kind: "event", meta: { key: null, keyBytes: binary } });
});
