import { describe, expect, test } from "bun:test";
import { allocatorSettings, missingAllocatorEnv } from "./allocator-env.ts";

describe("the worker's allocator settings", () => {
  test("by default: freed pages kept, the engine sized for the 150 MB target", () => {
    expect(missingAllocatorEnv({})).toEqual({ MIMALLOC_PURGE_DELAY: "-1", BUN_JSC_forceRAMSize: String(150 * 1024 * 1024) });
  });

  test("the engine is sized for the configured target; a target of 0 leaves it alone", () => {
    expect(missingAllocatorEnv({ FERRY_MEMORY_TARGET_MB: " 400 " })).toEqual({ MIMALLOC_PURGE_DELAY: "-1", BUN_JSC_forceRAMSize: String(400 * 1024 * 1024) });
    expect(missingAllocatorEnv({ FERRY_MEMORY_TARGET_MB: "0" })).toEqual({ MIMALLOC_PURGE_DELAY: "-1" });
  });

  test("a target that is not a whole number sizes nothing (the config's validation refuses it at start)", () => {
    for (const bad of ["", "1e3", "-5", "abc", "12.5", "9999999999"])
      expect(missingAllocatorEnv({ FERRY_MEMORY_TARGET_MB: bad })).toEqual({ MIMALLOC_PURGE_DELAY: "-1" });
  });

  test("an operator's own values win, and nothing is missing once both are set", () => {
    expect(missingAllocatorEnv({ MIMALLOC_PURGE_DELAY: "100" })).toEqual({ BUN_JSC_forceRAMSize: String(150 * 1024 * 1024) });
    expect(missingAllocatorEnv({ MIMALLOC_PURGE_DELAY: "100", BUN_JSC_forceRAMSize: "1073741824" })).toEqual({});
    expect(missingAllocatorEnv(missingAllocatorEnv({}))).toEqual({});
  });

  test("reports what is in effect for the start-up log", () => {
    expect(allocatorSettings({})).toEqual({ purgeDelay: "default", engineMemoryMb: "default" });
    expect(allocatorSettings(missingAllocatorEnv({}))).toEqual({ purgeDelay: "-1", engineMemoryMb: 150 });
  });
});
