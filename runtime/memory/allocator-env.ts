/**
 * What a worker (`ferry run`) asks of the two allocators under it. Both read their settings from
 * the environment once, at process start, so a worker started without them restarts itself with
 * them (restart.ts). Measured on a 2-core machine, side by side (bench/README.md, "Freed memory kept for
 * reuse"): 29% less CPU per event, 18% more events/s and a lower peak RSS than the defaults.
 *
 * - Bun's allocator (mimalloc) gives pages that fell free back to the OS 100 ms later. A busy worker
 *   frees and reuses memory continuously, so the same pages went back and were faulted in again:
 *   that churn cost more CPU than the worker's own work on the record. `MIMALLOC_PURGE_DELAY=-1`
 *   keeps them for reuse; the resident size then stays at its peak.
 * - JavaScriptCore lets its heap grow in proportion to the machine's memory before it collects (by
 *   half again or double on a machine of many GB). With the pages kept, that growth became the
 *   resident size (~520 MB at saturation). Told the machine has FERRY_MEMORY_TARGET_MB
 *   (`BUN_JSC_forceRAMSize`), it collects as on a small machine; a larger live set still fits.
 *
 * A value the operator set for either wins.
 */
import * as v from "valibot";
import { memoryLimitMb } from "../config/memory-limit.ts";
import { defaultMemoryTargetMb, settingsSchema } from "../config/schema.ts";

export const PURGE_DELAY_VAR = "MIMALLOC_PURGE_DELAY";
export const ENGINE_MEMORY_VAR = "BUN_JSC_forceRAMSize";

/** The allocator settings missing from `env`: empty when the worker already runs with them. */
export function missingAllocatorEnv(env: Record<string, string | undefined>): Record<string, string> {
  const missing: Record<string, string> = {};
  if (env[PURGE_DELAY_VAR] === undefined) missing[PURGE_DELAY_VAR] = "-1";
  const targetMb = memoryTargetMb(env.FERRY_MEMORY_TARGET_MB);
  if (env[ENGINE_MEMORY_VAR] === undefined && targetMb !== undefined && targetMb > 0) missing[ENGINE_MEMORY_VAR] = String(targetMb * 1024 * 1024);
  return missing;
}

/** The target by the config's own rule and default; undefined when that rule refuses it (the config says why, at start). */
function memoryTargetMb(raw: string | undefined): number | undefined {
  const parsed = v.safeParse(settingsSchema.entries.FERRY_MEMORY_TARGET_MB, raw);
  return parsed.success ? (parsed.output ?? defaultMemoryTargetMb(memoryLimitMb())) : undefined;
}

/** What the allocators run with, for the worker's start-up log: the variables as set, or "default". */
export function allocatorSettings(env: Record<string, string | undefined>): { purgeDelay: string; engineMemoryMb: number | "default" } {
  const engineBytes = Number(env[ENGINE_MEMORY_VAR]);
  return {
    purgeDelay: env[PURGE_DELAY_VAR] ?? "default",
    engineMemoryMb: Number.isFinite(engineBytes) && engineBytes > 0 ? Math.round(engineBytes / 1024 / 1024) : "default",
  };
}
