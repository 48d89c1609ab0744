import { describe, expect, test } from "bun:test";
import { limitBytes, memoryLimitMb } from "./memory-limit.ts";

const GB = 1024 ** 3;
const files = (entries: Record<string, string>) => (path: string) => entries[path];

describe("the process's memory limit", () => {
  test("reads a limit file: bytes, or none for v2's max, v1's ~2^63 and anything unreadable", () => {
    expect(limitBytes("268435456\n")).toBe(268435456);
    expect(limitBytes("max\n")).toBeUndefined();
    expect(limitBytes("9223372036854771712\n")).toBeUndefined();
    expect(limitBytes("0")).toBeUndefined();
    expect(limitBytes("garbage")).toBeUndefined();
    expect(limitBytes(undefined)).toBeUndefined();
  });

  test("cgroup v2: the strictest of the process's cgroup and those above it", () => {
    const read = files({
      "/proc/self/cgroup": "0::/kubepods/pod1/ctr\n",
      "/sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
      "/sys/fs/cgroup/kubepods/pod1/memory.max": `${256 * 1024 * 1024}\n`,
      "/sys/fs/cgroup/kubepods/memory.max": `${8 * GB}\n`,
    });
    expect(memoryLimitMb(read, 16 * GB)).toBe(256);
    // A container that mounts its own cgroup at the root.
    expect(memoryLimitMb(files({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "134217728" }), 16 * GB)).toBe(128);
  });

  test("cgroup v1: the hierarchical limit (an ancestor's counts), else the cgroup's own", () => {
    const v1 = "4:memory:/docker/abc\n0::/\n";
    expect(
      memoryLimitMb(
        files({
          "/proc/self/cgroup": v1,
          "/sys/fs/cgroup/memory/docker/abc/memory.stat": "cache 0\nrss 0\nhierarchical_memory_limit 201326592\ntotal_rss 0\n",
          "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "9223372036854771712",
        }),
        16 * GB,
      ),
    ).toBe(192);
    expect(memoryLimitMb(files({ "/proc/self/cgroup": v1, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912" }), 16 * GB)).toBe(512);
  });

  test("none when there is no limit, or it is not below the machine's memory", () => {
    expect(memoryLimitMb(files({}), 16 * GB)).toBeUndefined();
    expect(memoryLimitMb(files({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": "max" }), 16 * GB)).toBeUndefined();
    expect(memoryLimitMb(files({ "/proc/self/cgroup": "0::/\n", "/sys/fs/cgroup/memory.max": String(32 * GB) }), 16 * GB)).toBeUndefined();
  });
});
