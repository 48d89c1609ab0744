import { expect, test } from "bun:test";
import { retryTopicName, retryTopicsOf, topicNameProblem } from "./topics.ts";

test("one retry topic per source topic and stage, named for the handler", () => {
  expect(retryTopicsOf({ name: "totals", topics: ["orders", "refunds"], retry: { mode: "topics", delaysMs: [5_000, 60_000] } })).toEqual([
    { topic: "orders.totals.retry.1", source: "orders", stage: 1, delayMs: 5_000 },
    { topic: "orders.totals.retry.2", source: "orders", stage: 2, delayMs: 60_000 },
    { topic: "refunds.totals.retry.1", source: "refunds", stage: 1, delayMs: 5_000 },
    { topic: "refunds.totals.retry.2", source: "refunds", stage: 2, delayMs: 60_000 },
  ]);
});

test("a handler retrying in place has no retry topics", () => {
  expect(retryTopicsOf({ name: "totals", topics: ["orders"], retry: {} })).toEqual([]);
  expect(retryTopicsOf({ name: "totals", topics: ["orders"], retry: { mode: "in-place" } })).toEqual([]);
});

test.each([
  [retryTopicName("orders", "totals", 3), null],
  [retryTopicName("orders", "order totals", 1), "only letters, digits"],
  [retryTopicName("o".repeat(240), "totals", 1), "Kafka allows 249"],
])("topic name %p: %p", (name, problem) => {
  const found = topicNameProblem(name);
  if (problem === null) expect(found).toBeNull();
  else expect(found).toContain(problem);
});
