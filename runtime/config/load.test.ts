import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { loadConfig } from "./load.ts";

const minimal = {
  FERRY_KAFKA_BROKERS: "127.0.0.1:9092, 127.0.0.1:9093",
  FERRY_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/app",
  FERRY_HANDLERS_DIR: "./handlers",
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  test("applies defaults and converts types", () => {
    const config = loadConfig(minimal);
    expect(config.kafka.brokers).toEqual(["127.0.0.1:9092", "127.0.0.1:9093"]);
    expect(config.batchSize).toBe(500);
    expect(config.eventIdHeader).toBe("event-id");
    expect(config.kafka.sasl).toBeUndefined();
  });

  test("reports every problem at once, each naming its variable", () => {
    const problems = problemsOf({ FERRY_BATCH_SIZE: "lots", FERRY_LOG_LEVEL: "loud" });
    expect(problems.some((p) => p.includes("FERRY_KAFKA_BROKERS is required"))).toBe(true);
    expect(problems.some((p) => p.includes("FERRY_DATABASE_URL is required"))).toBe(true);
    expect(problems.some((p) => p.includes("--handlers"))).toBe(true);
    expect(problems).toContain('FERRY_BATCH_SIZE must be a whole number between 1 and 10000 (got "lots")');
    expect(problems).toContain('FERRY_LOG_LEVEL must be one of: debug, info, warn, error (got "loud")');
  });

  test.each([
    ["FERRY_KAFKA_BROKERS", "localhost", "host:port"],
    ["FERRY_DATABASE_URL", "mysql://x", "postgres://"],
    ["FERRY_BATCH_SIZE", "0", "at least 1"],
    ["FERRY_PARTITION_CONCURRENCY", "1000", "at most 256"],
  ])("rejects %s=%s", (name, value, expected) => {
    const problems = problemsOf({ ...minimal, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
    expect(problems[0]).toContain(expected);
  });

  test("SASL needs a username and password", () => {
    const problems = problemsOf({ ...minimal, FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext" });
    expect(problems[0]).toContain("FERRY_KAFKA_SASL_USERNAME");
    const config = loadConfig({
      ...minimal,
      FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
      FERRY_KAFKA_SASL_USERNAME: "alice",
      FERRY_KAFKA_SASL_PASSWORD: "secret",
    });
    expect(config.kafka.sasl).toEqual({ mechanism: "PLAIN", username: "alice", password: "secret" });
  });
});
