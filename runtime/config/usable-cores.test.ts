import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { quotaCores, usableCores } from "./usable-cores.ts";

describe("usable cores", () => {
  test("reads a CPU quota from cgroup v2, else v1; none when unlimited or unreadable", () => {
    expect(quotaCores("150000 100000\n", undefined, undefined)).toBe(1.5);
    expect(quotaCores("max 100000\n", "50000", "100000")).toBeUndefined();
    expect(quotaCores(undefined, "50000\n", "100000\n")).toBe(0.5);
    expect(quotaCores(undefined, "-1\n", "100000\n")).toBeUndefined();
    expect(quotaCores(undefined, undefined, undefined)).toBeUndefined();
    expect(quotaCores("garbage", undefined, undefined)).toBeUndefined();
    expect(quotaCores("0 100000", undefined, undefined)).toBeUndefined();
  });

  test("a quota below the CPUs the process may run on wins, rounded up, never below one core", () => {
    const files = (cpuMax: string) => (path: string) => (path === "/sys/fs/cgroup/cpu.max" ? cpuMax : undefined);
    expect(usableCores(files("50000 100000"))).toBe(1);
    expect(usableCores(files(`${availableParallelism() * 100000 + 50000} 100000`))).toBe(availableParallelism());
    expect(usableCores(files("max 100000"))).toBe(availableParallelism());
    expect(usableCores(() => undefined)).toBe(availableParallelism());
    if (availableParallelism() >= 2) expect(usableCores(files("150000 100000"))).toBe(2);
  });
});
