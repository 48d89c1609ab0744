import { describe, expect, test } from "bun:test";
import { configProblems, minimalRunEnv } from "./config-problems.ts";
import { loadConfig } from "./load.ts";

const minimal = minimalRunEnv;

const problemsOf = (env: Record<string, string>) => configProblems(() => loadConfig({ ...minimal, ...env }));

describe("consumer group settings", () => {
  test("defaults: a 10 s session, 1 s heartbeats, 5 min poll interval, no static membership", () => {
    expect(loadConfig(minimal).consumer).toEqual({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxPollIntervalMs: 300_000 });
  });

  test("static membership: one instance id, used in every handler's group", () => {
    const config = loadConfig({ ...minimal, FERRY_KAFKA_GROUP_INSTANCE_ID: "ferry-2", FERRY_KAFKA_SESSION_TIMEOUT_MS: "45000" });
    expect(config.consumer).toEqual({ sessionTimeoutMs: 45_000, heartbeatIntervalMs: 1_000, maxPollIntervalMs: 300_000, groupInstanceId: "ferry-2" });
  });

  test.each([
    [
      { FERRY_KAFKA_HEARTBEAT_INTERVAL_MS: "4000" },
      "FERRY_KAFKA_HEARTBEAT_INTERVAL_MS=4000 must be at most a third of FERRY_KAFKA_SESSION_TIMEOUT_MS=10000 (3333)",
    ],
    [{ FERRY_KAFKA_MAX_POLL_INTERVAL_MS: "5000" }, "FERRY_KAFKA_MAX_POLL_INTERVAL_MS=5000 must be at least FERRY_KAFKA_SESSION_TIMEOUT_MS=10000"],
    [{ FERRY_KAFKA_SESSION_TIMEOUT_MS: "500" }, "FERRY_KAFKA_SESSION_TIMEOUT_MS must be at least 1000"],
    [{ FERRY_KAFKA_GROUP_INSTANCE_ID: "pod name" }, "FERRY_KAFKA_GROUP_INSTANCE_ID may contain letters, digits"],
    [{ FERRY_PROGRESS_INTERVAL_MS: "soon" }, "FERRY_PROGRESS_INTERVAL_MS must be a whole number"],
  ])("refuses %p", (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  test("the progress line every 30 s by default, 0 turns it off", () => {
    expect(loadConfig(minimal).progressIntervalMs).toBe(30_000);
    expect(loadConfig({ ...minimal, FERRY_PROGRESS_INTERVAL_MS: "0" }).progressIntervalMs).toBe(0);
  });
});
