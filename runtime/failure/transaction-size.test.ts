import { expect, test } from "bun:test";
import { afterCommit, afterContention, GROW_AFTER, initialTransactionSize } from "./transaction-size.ts";

test("contention halves the transaction size, down to one event", () => {
  let size = initialTransactionSize(1000);
  const limits: number[] = [];
  for (let i = 0; i < 12; i++) {
    size = afterContention(size, size.limit);
    limits.push(size.limit);
  }
  expect(limits).toEqual([500, 250, 125, 62, 31, 15, 7, 3, 1, 1, 1, 1]);
});

test("full commits at the limit double it again, never past the batch size", () => {
  let size = { limit: 300, streak: 0 };
  for (let i = 0; i < GROW_AFTER - 1; i++) size = afterCommit(size, 300, 1000);
  expect(size.limit).toBe(300);
  size = afterCommit(size, 300, 1000);
  expect(size).toEqual({ limit: 600, streak: 0 });
  for (let i = 0; i < GROW_AFTER; i++) size = afterCommit(size, 600, 1000);
  expect(size.limit).toBe(1000);
});

test("a short batch says nothing about the limit", () => {
  const size = { limit: 64, streak: 2 };
  expect(afterCommit(size, 10, 1000)).toEqual(size);
});

test("a failed transaction smaller than the limit shrinks below its own size", () => {
  expect(afterContention({ limit: 1000, streak: 3 }, 40)).toEqual({ limit: 20, streak: 0 });
});
