import { expect, test } from "bun:test";
import { MAX_RETRY_DELAY_MS } from "./delays.ts";
import { leftoverRetryTopics, retryTopicName, retryTopicsOf, topicNameProblem } from "./topics.ts";

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

test("leftover retry topics: the handler's own by name, beyond its stages or all of them once it retries in place", () => {
  const existing = [
    "orders",
    "orders.totals.retry.1",
    "orders.totals.retry.2",
    "orders.totals.retry.3",
    "orders.totals.retry.x",
    "orders.totals.retry.0",
    "orders.other.retry.3",
    "refunds.totals.retry.1",
  ];
  const shortened = { name: "totals", topics: ["orders"], retry: { mode: "topics" as const, delaysMs: [5_000] } };
  expect(leftoverRetryTopics(shortened, existing)).toEqual([
    { topic: "orders.totals.retry.2", source: "orders", stage: 2, delayMs: MAX_RETRY_DELAY_MS },
    { topic: "orders.totals.retry.3", source: "orders", stage: 3, delayMs: MAX_RETRY_DELAY_MS },
  ]);
  expect(leftoverRetryTopics({ ...shortened, retry: {} }, existing).map((t) => t.topic)).toEqual([
    "orders.totals.retry.1",
    "orders.totals.retry.2",
    "orders.totals.retry.3",
  ]);
  expect(leftoverRetryTopics({ ...shortened, retry: { mode: "topics", delaysMs: [1, 2, 3] } }, existing)).toEqual([]);
});
