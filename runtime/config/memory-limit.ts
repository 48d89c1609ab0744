import { totalmem } from "node:os";
import { cgroupDirs, readQuietly } from "./cgroup.ts";

/**
 * The memory this process may use, in MB: its cgroup's limit (a container's `--memory`, a
 * Kubernetes pod's memory limit, a systemd unit's `MemoryMax`), the strictest of its own cgroup's
 * and its ancestors'. Undefined when there is none, it cannot be read, or it is not below the
 * machine's memory. Past it the kernel kills the process (OOMKilled), so the worker sizes what it
 * buffers to it (config/schema.ts, `fittedBatchSize`).
 */
export function memoryLimitMb(read: (path: string) => string | undefined = readQuietly, machineBytes = totalmem()): number | undefined {
  const { v2, v1 } = cgroupDirs(read("/proc/self/cgroup"), "memory");
  const candidates = [...v2.flatMap(ancestors).map((d) => read(`${d}/memory.max`)), ...v1.map((d) => v1Limit(read, d))];
  const limits = candidates.map(limitBytes).filter((b): b is number => b !== undefined && b < machineBytes);
  return limits.length === 0 ? undefined : Math.floor(Math.min(...limits) / 1024 / 1024);
}

/** A v2 limit applies to everything below its cgroup: the process's cgroup and each one above it, up to the mount. */
function ancestors(dir: string): string[] {
  const dirs: string[] = [];
  for (let d = dir; d.startsWith("/sys/fs/cgroup"); d = d.slice(0, d.lastIndexOf("/"))) dirs.push(d);
  return dirs;
}

/** v1: `hierarchical_memory_limit` in memory.stat counts the ancestors' limits; `memory.limit_in_bytes` only the cgroup's own. */
function v1Limit(read: (path: string) => string | undefined, dir: string): string | undefined {
  const hierarchical = read(`${dir}/memory.stat`)?.match(/^hierarchical_memory_limit (\d+)$/m)?.[1];
  return hierarchical ?? read(`${dir}/memory.limit_in_bytes`);
}

/** Bytes from a limit file: a number (v1 writes ~2^63 for none), or v2's "max" for none. */
export function limitBytes(text: string | undefined): number | undefined {
  const value = text?.trim();
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes > 0 && bytes < 2 ** 60 ? bytes : undefined;
}
