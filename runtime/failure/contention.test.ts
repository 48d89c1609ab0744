import { expect, test } from "bun:test";
import { afterContention, BASE_SERIALIZED_MS, calm, isSerialized, MAX_SERIALIZED_MS } from "./contention.ts";

test("the first contention serializes the handler for 10 s; contention while serialized changes nothing", () => {
  const first = afterContention(calm(), 1_000);
  expect(first.serializeForMs).toBe(BASE_SERIALIZED_MS);
  expect(isSerialized(first.mode, 1_000 + BASE_SERIALIZED_MS - 1)).toBe(true);
  expect(isSerialized(first.mode, 1_000 + BASE_SERIALIZED_MS)).toBe(false);
  const again = afterContention(first.mode, 5_000);
  expect(again.serializeForMs).toBe(0);
  expect(again.mode.serializedUntil).toBe(first.mode.serializedUntil);
});

test("contention that returns after a serialized period serializes twice as long, up to 5 minutes", () => {
  let mode = calm();
  let now = 0;
  const periods: number[] = [];
  for (let i = 0; i < 8; i++) {
    const next = afterContention(mode, now);
    periods.push(next.serializeForMs);
    mode = next.mode;
    now = mode.serializedUntil + 1;
  }
  expect(periods).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, MAX_SERIALIZED_MS, MAX_SERIALIZED_MS, MAX_SERIALIZED_MS]);
});

test("after a calm 10 minutes the handler starts over at 10 s", () => {
  const once = afterContention(afterContention(calm(), 0).mode, 20_000).mode;
  expect(afterContention(once, once.lastContentionAt + 600_001).serializeForMs).toBe(BASE_SERIALIZED_MS);
});
