import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/**
 * The cores this process may use: the CPUs it may run on, or fewer when its cgroup has a CPU
 * quota (a container's `cpus`, a Kubernetes pod's CPU limit, a systemd unit's `CPUQuota`).
 * `os.availableParallelism()` sees only the first: a pod limited to one CPU on a 16-core node reads 16.
 */
export function usableCores(read: (path: string) => string | undefined = readQuietly): number {
  const cpus = availableParallelism();
  const { v2, v1 } = cgroupDirs(read("/proc/self/cgroup"));
  // The process's own cgroup first; a container that mounts its cgroup as the root of
  // /sys/fs/cgroup (its /proc/self/cgroup may still name the host's path) has it there.
  const first = (dirs: string[], file: string) => dirs.map((d) => read(`${d}/${file}`)).find((text) => text !== undefined);
  const quota = quotaCores(first(v2, "cpu.max"), first(v1, "cpu.cfs_quota_us"), first(v1, "cpu.cfs_period_us"));
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

/** Where to look for the quota files, by /proc/self/cgroup: the process's own cgroup, then the mount's root. */
export function cgroupDirs(procSelfCgroup: string | undefined): { v2: string[]; v1: string[] } {
  const lines = (procSelfCgroup ?? "").split("\n").map((l) => l.split(":"));
  const own = (controllers: (c: string) => boolean) => {
    const path = lines
      .find((l) => l.length >= 3 && controllers(l[1]!))
      ?.slice(2)
      .join(":");
    return path && path !== "/" ? [path] : [];
  };
  const v2 = own((c) => c === "").map((p) => `/sys/fs/cgroup${p}`);
  const v1 = own((c) => c.split(",").includes("cpu")).map((p) => `/sys/fs/cgroup/cpu${p}`);
  return { v2: [...v2, "/sys/fs/cgroup"], v1: [...v1, "/sys/fs/cgroup/cpu"] };
}

/**
 * The quota as cores (fractional), from cgroup v2's `cpu.max` ("<quota> <period>" or "max <period>")
 * or else v1's quota and period files (quota -1: none). Undefined when there is none or it cannot be read.
 */
export function quotaCores(cpuMaxV2: string | undefined, quotaV1: string | undefined, periodV1: string | undefined): number | undefined {
  if (cpuMaxV2 !== undefined) {
    const [quota, period] = cpuMaxV2.trim().split(/\s+/);
    return ratio(quota, period);
  }
  return ratio(quotaV1?.trim(), periodV1?.trim());
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined;
  const [q, p] = [Number(quota), Number(period)];
  return q > 0 && p > 0 ? q / p : undefined;
}

function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
