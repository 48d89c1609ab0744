import { describe, expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import type { Dependency } from "./dependency.ts";
import { watchDependencies } from "./watch.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: createLogger({ level: "debug", sink: (line) => lines.push(JSON.parse(line)) }) };
}

/** A dependency whose behaviour the test switches: answering, refusing, or never answering. */
function switchable(name: string) {
  let mode: "up" | "down" | "hang" = "up";
  let calls = 0;
  const dependency: Dependency = {
    name,
    setting: `FERRY_${name.toUpperCase()}_URL`,
    address: `${name}:5432`,
    async check() {
      calls += 1;
      if (mode === "down") throw new Error("connect ECONNREFUSED");
      if (mode === "hang") await new Promise(() => {});
    },
  };
  return {
    dependency,
    set: (m: typeof mode) => {
      mode = m;
    },
    calls: () => calls,
  };
}

describe("watching backing services", () => {
  test("one line when an outage starts and one when it ends, however often it is checked", async () => {
    const { lines, log } = capture();
    const db = switchable("db");
    let clock = 1_000;
    const watch = watchDependencies([db.dependency], { log, checkTimeoutMs: 50, intervalMs: 60_000, now: () => clock });
    expect(await watch.check()).toEqual([]);
    db.set("down");
    for (let i = 0; i < 3; i++) expect(await watch.check()).toEqual(["db unreachable (FERRY_DB_URL, db:5432): connect ECONNREFUSED"]);
    clock += 20_000;
    db.set("up");
    expect(await watch.check()).toEqual([]);
    expect(await watch.check()).toEqual([]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "dependency:unavailable",
        dependency: "db",
        setting: "FERRY_DB_URL",
        address: "db:5432",
        error: "connect ECONNREFUSED",
      }),
      expect.objectContaining({ level: "info", msg: "dependency:recovered", dependency: "db", setting: "FERRY_DB_URL", address: "db:5432", downForMs: 20_000 }),
    ]);
  });

  test("a check that never answers is a reason within the bound, and callers share the one hung check", async () => {
    const { log } = capture();
    const db = switchable("db");
    const kafka = switchable("kafka");
    db.set("hang");
    const watch = watchDependencies([db.dependency, kafka.dependency], { log, checkTimeoutMs: 100, intervalMs: 60_000 });
    const started = performance.now();
    const answers = await Promise.all([watch.check(), watch.check(), watch.check()]);
    expect(performance.now() - started).toBeLessThan(400);
    for (const reasons of answers) expect(reasons).toEqual(["db unreachable (FERRY_DB_URL, db:5432): no answer within 100 ms"]);
    expect(db.calls()).toBe(1);
  });

  test("checks on its own every interval, and when nudged", async () => {
    const { lines, log } = capture();
    const db = switchable("db");
    db.set("down");
    const watch = watchDependencies([db.dependency], { log, checkTimeoutMs: 50, intervalMs: 30 });
    watch.start();
    try {
      const deadline = Date.now() + 2_000;
      while (!lines.some((l) => l.msg === "dependency:unavailable") && Date.now() < deadline) await Bun.sleep(10);
      expect(lines.filter((l) => l.msg === "dependency:unavailable")).toHaveLength(1);
      db.set("up");
      while (!lines.some((l) => l.msg === "dependency:recovered") && Date.now() < deadline) await Bun.sleep(10);
      expect(lines.map((l) => l.msg)).toEqual(["dependency:unavailable", "dependency:recovered"]);
    } finally {
      watch.stop();
    }
    const nudged = watchDependencies([db.dependency], { log, checkTimeoutMs: 50, intervalMs: 60_000 });
    const before = db.calls();
    nudged.nudge();
    nudged.nudge(); // within a second of the first: no second check
    await Bun.sleep(20);
    expect(db.calls()).toBe(before + 1);
    nudged.stop();
  });
});
