import { describe, expect, test } from "bun:test";
import { keySchedule } from "./key-schedule.ts";

const takeAll = (s: ReturnType<typeof keySchedule>) => {
  const out: number[] = [];
  for (let i = s.take(); i !== undefined; i = s.take()) out.push(i);
  return out;
};

describe("keySchedule", () => {
  test('order "key": one event per key runs at a time, the next of a key only after it', () => {
    const s = keySchedule(["a", "b", "a", "c", "b", "a"], { order: "key", limit: 10 });
    expect(takeAll(s)).toEqual([0, 1, 3]);
    s.done(1);
    expect(takeAll(s)).toEqual([4]);
    s.done(0);
    expect(takeAll(s)).toEqual([2]);
    s.done(2);
    expect(takeAll(s)).toEqual([5]);
    s.done(3);
    s.done(4);
    s.done(5);
    expect(s.running).toBe(0);
    expect(s.take()).toBeUndefined();
  });

  test("never more than the limit, and the lowest startable offset first", () => {
    const s = keySchedule(["a", "b", "c", "d", "e"], { order: "key", limit: 2 });
    expect(takeAll(s)).toEqual([0, 1]);
    s.done(1);
    expect(takeAll(s)).toEqual([2]);
    s.done(0);
    s.done(2);
    expect(takeAll(s)).toEqual([3, 4]);
  });

  test("events without a key keep their order among themselves", () => {
    const s = keySchedule([null, "a", null], { order: "key", limit: 5 });
    expect(takeAll(s)).toEqual([0, 1]);
    s.done(0);
    expect(takeAll(s)).toEqual([2]);
  });

  test('order "none": any event may start, up to the limit', () => {
    const s = keySchedule(["a", "a", "a", "a"], { order: "none", limit: 3 });
    expect(takeAll(s)).toEqual([0, 1, 2]);
    s.done(1);
    expect(takeAll(s)).toEqual([3]);
  });

  test("a random run keeps every key's events in offset order and within the limit", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const keys = Array.from({ length: 500 }, () => `k${Math.floor(random() * 20)}`);
    const s = keySchedule(keys, { order: "key", limit: 8 });
    const running = new Set<number>();
    const lastStarted = new Map<string, number>();
    const finished = new Set<number>();
    while (finished.size < keys.length) {
      for (let i = s.take(); i !== undefined; i = s.take()) {
        const before = lastStarted.get(keys[i]!);
        if (before !== undefined) {
          expect(before).toBeLessThan(i);
          expect(finished.has(before)).toBe(true);
        }
        lastStarted.set(keys[i]!, i);
        running.add(i);
      }
      expect(running.size).toBeLessThanOrEqual(8);
      const pick = [...running][Math.floor(random() * running.size)]!;
      running.delete(pick);
      finished.add(pick);
      s.done(pick);
    }
  });

  test("misuse is a bug", () => {
    expect(() => keySchedule([], { order: "key", limit: 0 })).toThrow("at least one");
    expect(() => keySchedule(["a"], { order: "key", limit: 1 }).done(0)).toThrow("not running");
  });
});
