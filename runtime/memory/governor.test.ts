import { describe, expect, test } from "bun:test";
import { createMemoryGovernor } from "./governor.ts";

/** A process whose heap uses `used` bytes; a collection brings it down to `live` (at once, for simplicity). */
function fakeProcess(used: number, live: number) {
  const state = { used, live, collections: 0, clock: 0, overTarget: [] as number[] };
  const governor = createMemoryGovernor({
    targetBytes: 100,
    minGapMs: 200,
    inUse: () => state.used,
    collect: () => {
      state.collections++;
      state.used = state.live;
    },
    now: () => state.clock,
    onOverTarget: (bytes) => state.overTarget.push(bytes),
  });
  const checkAt = (ms: number) => {
    state.clock = ms;
    governor.check();
    return state.collections;
  };
  return { state, governor, checkAt };
}

describe("memory governor", () => {
  test("does nothing while the heap stays under the target", () => {
    const { checkAt } = fakeProcess(90, 10);
    expect(checkAt(0)).toBe(0);
  });

  test("collects once the heap passes the target, at most once per minGapMs", () => {
    const { state, checkAt } = fakeProcess(150, 60);
    expect(checkAt(0)).toBe(1);
    state.used = 150;
    expect(checkAt(100)).toBe(1);
    state.used = 60;
    expect(checkAt(200)).toBe(1);
    state.used = 150;
    expect(checkAt(250)).toBe(2);
    expect(checkAt(449)).toBe(2);
    expect(state.overTarget).toEqual([]);
  });

  test("when a collection cannot get under the target, says so once and waits until memory grew a quarter over what it left", () => {
    const { state, checkAt } = fakeProcess(150, 120);
    expect(checkAt(0)).toBe(1);
    // Judged at the first reading after the gap: 120 left, so the next collection waits for 150.
    expect(checkAt(200)).toBe(1);
    expect(state.overTarget).toEqual([120]);
    state.used = 149;
    expect(checkAt(400)).toBe(1);
    // This one leaves 130: the bar moves to 162.5.
    state.live = 130;
    state.used = 151;
    expect(checkAt(450)).toBe(2);
    expect(checkAt(650)).toBe(2);
    state.used = 160;
    expect(checkAt(700)).toBe(2);
    state.used = 163;
    expect(checkAt(750)).toBe(3);
    expect(state.overTarget).toEqual([120]);
    // Back under the target: the next episode starts afresh, and may say so again.
    state.used = 50;
    expect(checkAt(950)).toBe(3);
    state.used = 101;
    state.live = 110;
    expect(checkAt(1000)).toBe(4);
    expect(checkAt(1200)).toBe(4);
    expect(state.overTarget).toEqual([120, 110]);
  });

  test("start and stop manage one unref'd timer", () => {
    const { governor } = fakeProcess(10, 10);
    governor.start();
    governor.start();
    governor.stop();
    governor.stop();
  });
});
