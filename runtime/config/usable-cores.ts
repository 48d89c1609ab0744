import { availableParallelism } from "node:os";
import { cgroupDirs, firstFile, readQuietly } from "./cgroup.ts";

/**
 * The cores this process may use: the CPUs it may run on, or fewer when its cgroup has a CPU
 * quota (a container's `cpus`, a Kubernetes pod's CPU limit, a systemd unit's `CPUQuota`).
 * `os.availableParallelism()` sees only the first: a pod limited to one CPU on a 16-core node reads 16.
 */
export function usableCores(read: (path: string) => string | undefined = readQuietly): number {
  const cpus = availableParallelism();
  const { v2, v1 } = cgroupDirs(read("/proc/self/cgroup"));
  const first = (dirs: string[], file: string) => firstFile(read, dirs, file);
  const quota = quotaCores(first(v2, "cpu.max"), first(v1, "cpu.cfs_quota_us"), first(v1, "cpu.cfs_period_us"));
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
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
