import { expect, test } from "bun:test";
import { subjectName } from "./subject-strategy.ts";

test.each([
  ["TopicName", "orders", "shop.orders.OrderPlaced", "value", "orders-value"],
  ["TopicName", "orders", undefined, "key", "orders-key"],
  ["RecordName", "orders", "shop.orders.OrderPlaced", "value", "shop.orders.OrderPlaced"],
  ["TopicRecordName", "orders", "shop.orders.OrderPlaced", "value", "orders-shop.orders.OrderPlaced"],
] as const)("%s for topic %s, record %s (%s) → %s", (strategy, topic, record, part, subject) => {
  expect(subjectName(strategy, topic, record, part)).toBe(subject);
});

test("record strategies need a named schema", () => {
  expect(() => subjectName("RecordName", "orders", undefined)).toThrow("needs a named schema");
});
