import { describe, expect, test } from "bun:test";
import { createMemoryGovernor } from "./memory-governor.ts";

/** A process whose resident memory is `rss`; a collection brings it down to `live` (at once, for simplicity). */
function fakeProcess(rss: number, live: number) {
  const state = { rss, live, collections: 0, clock: 0, overTarget: [] as number[] };
  const governor = createMemoryGovernor({
    targetBytes: 100,
    minGapMs: 200,
    rss: () => state.rss,
    collect: () => {
      state.collections++;
      state.rss = state.live;
    },
    now: () => state.clock,
    onOverTarget: (rss) => state.overTarget.push(rss),
  });
  const checkAt = (ms: number) => {
    state.clock = ms;
    governor.check();
    return state.collections;
  };
  return { state, governor, checkAt };
}

describe("memory governor", () => {
  test("does nothing while resident memory stays under the target", () => {
    const { checkAt } = fakeProcess(90, 10);
    expect(checkAt(0)).toBe(0);
  });

  test("collects once resident memory passes the target, at most once per minGapMs", () => {
    const { state, checkAt } = fakeProcess(150, 60);
    expect(checkAt(0)).toBe(1);
    state.rss = 150;
    expect(checkAt(100)).toBe(1);
    expect(checkAt(200)).toBe(2);
    expect(state.overTarget).toEqual([]);
  });

  test("when collections keep finding it over the target, says so once and backs off, doubling", () => {
    const { state, checkAt } = fakeProcess(150, 120);
    for (let i = 0; i < 8; i++) expect(checkAt(i * 200)).toBe(i + 1);
    expect(state.overTarget).toEqual([120]);
    // 8th collection at 1400: quiet for 400 ms, then 800 ms.
    expect(checkAt(1799)).toBe(8);
    expect(checkAt(1800)).toBe(9);
    expect(checkAt(2599)).toBe(9);
    expect(checkAt(2600)).toBe(10);
    expect(state.overTarget).toEqual([120]);
    // Back under the target: the next episode starts afresh.
    state.rss = 50;
    expect(checkAt(5000)).toBe(10);
    state.rss = 150;
    expect(checkAt(5001)).toBe(11);
    state.live = 50;
    expect(checkAt(5201)).toBe(12);
    expect(state.overTarget).toEqual([120]);
  });

  test("start and stop manage one unref'd timer", () => {
    const { governor } = fakeProcess(10, 10);
    governor.start();
    governor.start();
    governor.stop();
    governor.stop();
  });
});
