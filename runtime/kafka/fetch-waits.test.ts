import { expect, test } from "bun:test";
import { createFetchWaits } from "./fetch-waits.ts";

test("only `limit` fetches wait in consume at once; a released slot is taken again", () => {
  const waits = createFetchWaits({ limit: 1, maxWaitMs: 100 });
  expect(waits.tryBlock()).toBe(true);
  expect(waits.tryBlock()).toBe(false);
  waits.release();
  expect(waits.tryBlock()).toBe(true);
});

test.each([
  [1, 5],
  [2, 10],
  [3, 20],
  [5, 80],
  [6, 100],
  [1_000, 100],
])("an idle consumer's %ith empty poll in a row sleeps %i ms", (idlePolls, ms) => {
  expect(createFetchWaits({ maxWaitMs: 100 }).idleSleepMs(idlePolls)).toBe(ms);
});
