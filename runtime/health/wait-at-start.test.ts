import { describe, expect, test } from "bun:test";
import { DependencyRefusedError, DependencyUnavailableError, StartAbortedError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import type { Dependency } from "./dependency.ts";
import { startBackoff, waitForDependencies } from "./wait-at-start.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ level: "debug", sink: (line) => lines.push(JSON.parse(line)) }) };
}

/** A dependency whose checks fail with `errors` in turn, then succeed. */
function flaky(name: string, errors: Error[]): Dependency & { attempts: number } {
  const dependency = {
    name,
    setting: `FERRY_${name.toUpperCase()}`,
    address: `${name}:1`,
    attempts: 0,
    async check() {
      const error = errors[dependency.attempts++];
      if (error) throw error;
    },
  };
  return dependency;
}

describe("waiting for backing services at start", () => {
  test("waits with backoff, one warning per failed attempt naming the setting and address, then one line when reached", async () => {
    const { lines, log } = capture();
    const db = flaky("db", [new Error("connect ECONNREFUSED 127.0.0.1:5999"), new Error("connect ECONNREFUSED 127.0.0.1:5999")]);
    const kafka = flaky("kafka", []);
    await waitForDependencies([db, kafka], { log, timeoutMs: 60_000, backoff: (n) => n * 10 });
    expect(db.attempts).toBe(3);
    expect(kafka.attempts).toBe(1);
    expect(lines.map((l) => [l.msg, l.dependency, l.attempt ?? l.attempts])).toEqual([
      ["startup:waiting", "db", 1],
      ["startup:waiting", "db", 2],
      ["startup:reachable", "db", 3],
    ]);
    expect(lines[0]).toMatchObject({ level: "warn", setting: "FERRY_DB", address: "db:1", retryInMs: 10, error: "connect ECONNREFUSED 127.0.0.1:5999" });
    expect(lines[1]).toMatchObject({ retryInMs: 20 });
  });

  test("a refusal is not waited for", async () => {
    const { lines, log } = capture();
    const refused = new DependencyRefusedError("FERRY_DATABASE_URL", "db:1", "PostgreSQL at db:1: the login was refused; check FERRY_DATABASE_URL");
    const db = flaky("db", [refused]);
    const kafka = flaky(
      "kafka",
      Array.from({ length: 100 }, () => new Error("refused")),
    );
    await expect(waitForDependencies([db, kafka], { log, timeoutMs: 60_000, backoff: () => 5 })).rejects.toBe(refused);
    expect(db.attempts).toBe(1);
    // The other wait ends with it.
    const kafkaAttempts = kafka.attempts;
    await Bun.sleep(30);
    expect(kafka.attempts).toBe(kafkaAttempts);
    expect(lines.every((l) => l.dependency === "kafka")).toBe(true);
  });

  test("gives up after the start timeout with one line naming the setting, the address and the last error", async () => {
    const { lines, log } = capture();
    let clock = 0;
    const db = flaky(
      "db",
      Array.from({ length: 100 }, () => new Error("connect ECONNREFUSED 127.0.0.1:5999\n    at stack")),
    );
    const waiting = waitForDependencies([db], { log, timeoutMs: 3_000, backoff: () => 10, now: () => (clock += 400) });
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as Error).message).toBe(
      "db at db:1 (FERRY_DB) could not be reached within 3 s (FERRY_STARTUP_TIMEOUT_MS): connect ECONNREFUSED 127.0.0.1:5999; at stack",
    );
    expect((error as Error).message).not.toContain("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.msg === "startup:waiting")).toBe(true);
  });

  test("a stop signal ends the wait at once as an aborted start", async () => {
    const { log } = capture();
    const controller = new AbortController();
    const db = flaky(
      "db",
      Array.from({ length: 100 }, () => new Error("refused")),
    );
    const waiting = waitForDependencies([db], { log, timeoutMs: 600_000, backoff: () => 60_000, signal: controller.signal });
    await Bun.sleep(20);
    const started = performance.now();
    controller.abort("SIGTERM");
    await expect(waiting).rejects.toBeInstanceOf(StartAbortedError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test("backoff doubles from 0.5 s up to 10 s", () => {
    expect([1, 2, 3, 4, 5, 6, 20].map(startBackoff)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });
});
