/**
 * `ferry run` restarts itself in place with the allocator settings it needs at start
 * (runtime/memory/allocator-env.ts): the same process, now with them, and an operator's own
 * values kept.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";

let ferry: FerryProcess | undefined;
afterEach(() => ferry?.proc.kill("SIGKILL"));

function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

async function startedWith(env: Record<string, string>) {
  ferry = startFerry(["run", "--handlers", writeHandlersDir({})], env);
  const settings = await ferry.waitForLog("memory:settings");
  await ferry.waitForLog("engine:running");
  const environ = environOf(ferry.proc.pid);
  ferry.proc.kill("SIGTERM");
  // The signal reaches the restarted worker: a graceful stop, as before.
  expect(await ferry.exited).toBe(0);
  // Printed once: the first image was replaced before it wrote anything.
  expect(ferry.logs.filter((l) => l.msg === "memory:settings")).toHaveLength(1);
  return { settings, environ };
}

describe.skipIf(process.platform !== "linux")("the worker's allocator settings", () => {
  test("a worker started without them runs with them, in the process that was started", async () => {
    const { settings, environ } = await startedWith({});
    expect(settings).toMatchObject({ targetMb: 150, purgeDelay: "-1", engineMemoryMb: 150 });
    expect(environ).toMatchObject({ MIMALLOC_PURGE_DELAY: "-1", BUN_JSC_forceRAMSize: String(150 * 1024 * 1024), FERRY_HTTP_PORT: "0" });
  });

  test("an operator's values win, and the engine is sized for the configured target", async () => {
    const { settings, environ } = await startedWith({ MIMALLOC_PURGE_DELAY: "100", FERRY_MEMORY_TARGET_MB: "300" });
    expect(settings).toMatchObject({ targetMb: 300, purgeDelay: "100", engineMemoryMb: 300 });
    expect(environ).toMatchObject({ MIMALLOC_PURGE_DELAY: "100", BUN_JSC_forceRAMSize: String(300 * 1024 * 1024) });
  });
});
