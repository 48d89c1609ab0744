import { describe, expect, test } from "bun:test";
import { parseSchema } from "../avro/parse-schema.ts";
import { SchemaError } from "../errors.ts";
import { bindSubjects, type SchemaFile } from "./catalog.ts";

const file = (name: string, record: string): SchemaFile => {
  const schema = { type: "record", name: record, namespace: "shop", fields: [] };
  return { name, path: `/schemas/${name}`, text: JSON.stringify(schema), type: parseSchema(schema, name) };
};
const placed = file("order-placed.avsc", "OrderPlaced");
const cancelled = file("order-cancelled.avsc", "OrderCancelled");
const subjects = (r: ReturnType<typeof bindSubjects>) => ({
  bound: r.bindings.map((b) => `${b.schema.name} → ${b.subject}`),
  unbound: r.unbound.map((f) => f.name),
});

describe("bindSubjects", () => {
  test.each([
    ["TopicName", { orders: ["order-placed.avsc"] }, { bound: ["order-placed.avsc → orders-value"], unbound: ["order-cancelled.avsc"] }],
    ["RecordName", {}, { bound: ["order-placed.avsc → shop.OrderPlaced", "order-cancelled.avsc → shop.OrderCancelled"], unbound: [] }],
    [
      "TopicRecordName",
      { orders: ["order-placed.avsc", "order-cancelled.avsc"] },
      { bound: ["order-placed.avsc → orders-shop.OrderPlaced", "order-cancelled.avsc → orders-shop.OrderCancelled"], unbound: [] },
    ],
  ] as const)("%s with %j", (strategy, topics, expected) => {
    expect(subjects(bindSubjects([placed, cancelled], topics as Record<string, string[]>, strategy))).toEqual(expected as never);
  });

  test.each([
    ["two schemas on one topic under TopicName", { orders: ["order-placed.avsc", "order-cancelled.avsc"] }, "use TopicRecordName"],
    ["a file that does not exist", { orders: ["nope.avsc"] }, "names nope.avsc, which is not a .avsc file"],
  ])("refuses %s", (_label, topics, message) => {
    expect(() => bindSubjects([placed, cancelled], topics, "TopicName")).toThrow(SchemaError);
    expect(() => bindSubjects([placed, cancelled], topics, "TopicName")).toThrow(message);
  });
});
