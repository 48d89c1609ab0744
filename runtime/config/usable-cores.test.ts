import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { cgroupDirs } from "./cgroup.ts";
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

  test("looks in the process's own cgroup first, then at the root of the mount", () => {
    expect(cgroupDirs("0::/system.slice/ferry.service\n")).toEqual({
      v2: ["/sys/fs/cgroup/system.slice/ferry.service", "/sys/fs/cgroup"],
      v1: ["/sys/fs/cgroup/cpu"],
    });
    expect(cgroupDirs("9:name=systemd:/\n4:cpu,cpuacct:/docker/abc\n0::/\n")).toEqual({
      v2: ["/sys/fs/cgroup"],
      v1: ["/sys/fs/cgroup/cpu/docker/abc", "/sys/fs/cgroup/cpu"],
    });
    expect(cgroupDirs(undefined)).toEqual({ v2: ["/sys/fs/cgroup"], v1: ["/sys/fs/cgroup/cpu"] });
    // A unit's own quota wins over the unlimited root; a path that is not there (a container's
    // mount of its own cgroup) falls back to the root, which is the container's.
    const files: Record<string, string> = {
      "/proc/self/cgroup": "0::/system.slice/ferry.service\n",
      "/sys/fs/cgroup/system.slice/ferry.service/cpu.max": "100000 100000\n",
      "/sys/fs/cgroup/cpu.max": "max 100000\n",
    };
    expect(usableCores((p) => files[p])).toBe(1);
    const container: Record<string, string> = {
      "/proc/self/cgroup": "4:cpu,cpuacct:/docker/abc\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000",
    };
    expect(usableCores((p) => container[p])).toBe(1);
  });
});
