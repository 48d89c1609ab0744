import { expect, test } from "bun:test";
import { finishedWithin } from "./finished-within.ts";

test("true when the work settles in time, false when the time runs out first", async () => {
  expect(await finishedWithin(Bun.sleep(5), 1_000)).toBe(true);
  let done = false;
  const slow = Bun.sleep(100).then(() => (done = true));
  expect(await finishedWithin(slow, 10)).toBe(false);
  expect(done).toBe(false);
  await slow;
  expect(done).toBe(true);
});

test("a rejection within the time rejects", async () => {
  await expect(finishedWithin(Promise.reject(new Error("broken")), 1_000)).rejects.toThrow("broken");
});
