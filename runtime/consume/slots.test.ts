import { describe, expect, test } from "bun:test";
import { createSlots } from "./slots.ts";

describe("slots", () => {
  test("grants up to the capacity, then in arrival order as slots are released", async () => {
    const slots = createSlots(2);
    expect(await slots.acquire()).toBe(true);
    expect(await slots.acquire()).toBe(true);
    const order: number[] = [];
    const third = slots.acquire().then((ok) => ok && order.push(3));
    const fourth = slots.acquire().then((ok) => ok && order.push(4));
    await Bun.sleep(1);
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual([3]);
    slots.release();
    await fourth;
    expect(order).toEqual([3, 4]);
    expect(slots.free).toBe(0);
  });

  test("a wait abandoned by its signal holds nothing and skips its turn", async () => {
    const slots = createSlots(1);
    await slots.acquire();
    const stop = new AbortController();
    const abandoned = slots.acquire(stop.signal);
    const next = slots.acquire();
    stop.abort();
    expect(await abandoned).toBe(false);
    slots.release();
    expect(await next).toBe(true);
    slots.release();
    expect(slots.free).toBe(1);
    expect(await slots.acquire(AbortSignal.abort())).toBe(false);
  });

  test("misuse is a bug", () => {
    expect(() => createSlots(0)).toThrow("at least 1");
    expect(() => createSlots(1).release()).toThrow("not held");
  });
});
