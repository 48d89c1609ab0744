import { describe, expect, test } from "bun:test";
import { outboxEventId } from "./event-id.ts";

const origin = { groupId: "ferry.orders", sourceEventId: "e-1", position: 0 };

describe("outboxEventId", () => {
  test("derives the same id for the same origin, every time", () => {
    expect(outboxEventId(origin)).toBe(outboxEventId({ ...origin }));
  });

  test("is a version 5 UUID with the RFC variant", () => {
    expect(outboxEventId(origin)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test.each([
    ["another position", { ...origin, position: 1 }],
    ["another source event", { ...origin, sourceEventId: "e-2" }],
    ["another handler or service", { ...origin, groupId: "billing.orders" }],
    ["names that concatenate alike", { groupId: "ferry.orders|1", sourceEventId: "e-1", position: 0 }],
  ])("differs for %s", (_, other) => {
    expect(outboxEventId(other)).not.toBe(outboxEventId(origin));
  });
});
