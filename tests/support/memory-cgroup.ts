import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cgroupDirs } from "../../runtime/config/cgroup.ts";
import { ferryBinary } from "./ferry-process.ts";

export interface MemoryCgroup {
  /** An executable that moves itself into the cgroup, then runs the binary with its arguments. */
  binary: string;
  /** Processes the kernel killed in it for want of memory. */
  oomKills(): number;
  /** The most memory it held at once, in MB. */
  peakMb(): number;
  remove(): void;
}

/**
 * A cgroup of this process's own (cgroup v1's memory hierarchy, as on this project's machines)
 * with a memory limit: the kernel kills what runs in it past the limit, as it kills a container
 * past its `--memory` or a pod past its memory limit. Undefined, with why, where that cannot be made
 * (no v1 memory controller mounted, not allowed to write it). Bench: `bun bench/run.ts --memory-limit <MB>`.
 */
export function memoryCgroup(limitMb: number, name: string, binaryInside = ferryBinary): MemoryCgroup | { unavailable: string } {
  // The process's own memory cgroup, as the worker looks for its limit (runtime/config/cgroup.ts).
  const dir = path.join(cgroupDirs(readFileSync("/proc/self/cgroup", "utf8"), "memory").v1[0]!, name);
  try {
    if (existsSync(dir)) rmdirSync(dir);
    mkdirSync(dir);
    writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(limitMb * 1024 * 1024));
  } catch (e) {
    return { unavailable: `cannot make a memory cgroup at ${dir}: ${(e as Error).message}` };
  }
  const binary = path.join(tmpdir(), `ferry-in-${name}`);
  writeFileSync(binary, `#!/bin/sh\necho $$ > ${dir}/cgroup.procs || exit 97\nexec ${binaryInside} "$@"\n`);
  chmodSync(binary, 0o755);
  return {
    binary,
    oomKills: () => Number(readFileSync(path.join(dir, "memory.oom_control"), "utf8").match(/^oom_kill (\d+)$/m)?.[1] ?? 0),
    peakMb: () => Math.round(Number(readFileSync(path.join(dir, "memory.max_usage_in_bytes"), "utf8")) / 1024 / 1024),
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // Still holds a process that is being killed: the next run's makes it anew.
      }
    },
  };
}
