import { expect, test } from "bun:test";
import type { KafkaRecord } from "../kafka/port.ts";
import { duePrefix, headSightings } from "./due.ts";

const record = (offset: number, dueAt?: number): KafkaRecord => ({
  topic: "orders.totals.retry.1",
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from("{}"),
  headers: dueAt === undefined ? {} : { "ferry-retry-due-at": Buffer.from(String(dueAt)) },
  timestamp: 0,
});

test.each([
  ["all due", [record(0, 900), record(1, 1_000)], { due: 2, waitMs: 0 }],
  ["none due: wait for the head", [record(0, 1_500), record(1, 1_200)], { due: 0, waitMs: 500 }],
  ["a due prefix, then the first not due", [record(0, 500), record(1, 1_001), record(2, 900)], { due: 1, waitMs: 1 }],
  ["a record without a due time runs at once", [record(0), record(1, 2_000)], { due: 1, waitMs: 1_000 }],
  ["empty", [], { due: 0, waitMs: 0 }],
])("%s", (_name, records, expected) => {
  expect(duePrefix(records, 1_000)).toEqual(expected);
});

test.each([
  ["a due time further ahead than the bound waits for the bound only", [record(0, 16_725_225_600_000)], 1_600, { due: 0, waitMs: 600 }],
  ["past the bound it is due, whatever the header says", [record(0, 16_725_225_600_000), record(1, 5_000)], 900, { due: 2, waitMs: 0 }],
  ["due times within the bound are kept", [record(0, 1_200)], 5_000, { due: 0, waitMs: 200 }],
])("%s", (_name, records, latest, expected) => {
  expect(duePrefix(records, 1_000, latest)).toEqual(expected);
});

test("a partition's head is remembered from its first sighting until the head moves on", () => {
  const sighted = headSightings();
  expect(sighted("r-0", "5", 1_000)).toBe(1_000);
  expect(sighted("r-0", "5", 7_000)).toBe(1_000);
  expect(sighted("r-1", "5", 7_000)).toBe(7_000);
  expect(sighted("r-0", "6", 8_000)).toBe(8_000);
});
