import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { loadConfig } from "./load.ts";
import { defaultMemoryTargetMb, defaultPartitionConcurrency, fittedBatchSize } from "./schema.ts";
import { usableCores } from "./usable-cores.ts";

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
    const config = loadConfig(minimal, { memoryLimit: () => undefined });
    expect(config.kafka.brokers).toEqual(["127.0.0.1:9092", "127.0.0.1:9093"]);
    expect(config.batchSize).toBe(1000);
    expect(config.eventIdHeader).toBe("event-id");
    expect(config.kafka.sasl).toBeUndefined();
    // Sent outbox rows are deleted once Kafka acknowledged them, unless kept for N hours.
    expect(config.outbox.retentionHours).toBe(0);
    expect(loadConfig({ ...minimal, FERRY_OUTBOX_RETENTION_HOURS: "24" }).outbox.retentionHours).toBe(24);
  });

  test("lowers the default batch to fit a memory limit (a container's), never an operator's FERRY_BATCH_SIZE", () => {
    const at = (limitMb: number | undefined, concurrency: number) => fittedBatchSize(limitMb, concurrency);
    expect([undefined, 1024, 256, 225, 192, 160, 128, 96].map((l) => at(l, 4))).toEqual([1000, 1000, 1000, 1000, 700, 450, 200, 100]);
    // Fewer batches at once hold less: the same limit affords larger ones.
    expect([at(160, 2), at(160, 8), at(128, 2)]).toEqual([950, 200, 400]);
    const limited = (settings: Record<string, string>) => loadConfig({ ...minimal, FERRY_PARTITION_CONCURRENCY: "4", ...settings }, { memoryLimit: () => 128 });
    expect(limited({})).toMatchObject({ batchSize: 200, batchSizeSource: "memory-limit", memoryLimitMb: 128, memoryTargetMb: 64 });
    expect(limited({ FERRY_BATCH_SIZE: "1000" })).toMatchObject({ batchSize: 1000, batchSizeSource: "setting", memoryLimitMb: 128 });
    expect(loadConfig(minimal, { memoryLimit: () => 4096 })).toMatchObject({ batchSize: 1000, batchSizeSource: "default" });
    // The heap target: 150 MB, half of a limit below 300 MB, never below 32.
    expect([undefined, 4096, 300, 256, 128, 48].map(defaultMemoryTargetMb)).toEqual([150, 150, 150, 128, 64, 32]);
  });

  test("runs two partitions' transactions at once per core the worker may use, 2 to 8, unless told", () => {
    expect([1, 2, 3, 4, 16].map(defaultPartitionConcurrency)).toEqual([2, 4, 6, 8, 8]);
    expect(loadConfig(minimal).partitionConcurrency).toBe(defaultPartitionConcurrency(usableCores()));
    expect(loadConfig({ ...minimal, FERRY_PARTITION_CONCURRENCY: "12" }).partitionConcurrency).toBe(12);
  });

  test("reports every problem at once, each naming its variable", () => {
    const problems = problemsOf({ FERRY_BATCH_SIZE: "lots", FERRY_LOG_LEVEL: "loud" });
    expect(problems.some((p) => p.includes("FERRY_KAFKA_BROKERS is required"))).toBe(true);
    expect(problems.some((p) => p.includes("FERRY_DATABASE_URL (or FERRY_DATABASE_URL_FILE) is required"))).toBe(true);
    expect(problems.some((p) => p.includes("--handlers"))).toBe(true);
    expect(problems).toContain('FERRY_BATCH_SIZE must be a whole number between 1 and 10000 (got "lots")');
    expect(problems).toContain('FERRY_LOG_LEVEL must be one of: debug, info, warn, error (got "loud")');
  });

  test.each([
    ["FERRY_KAFKA_BROKERS", "localhost", "host:port"],
    ["FERRY_DATABASE_URL", "mysql://x", "postgres://"],
    ["FERRY_BATCH_SIZE", "0", "at least 1"],
    ["FERRY_PARTITION_CONCURRENCY", "1000", "at most 256"],
    ["FERRY_OUTBOX_RETENTION_HOURS", "-1", "between 0 and 87600"],
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

describe("admin API exposure", () => {
  test.each([
    ["127.0.0.1", {}, true],
    ["localhost", {}, true],
    ["::1", {}, true],
    ["0.0.0.0", { FERRY_ADMIN_TOKEN: "s3cret-token-of-16+" }, true],
    ["0.0.0.0", { FERRY_ADMIN_API: "false" }, true],
    ["0.0.0.0", {}, false],
    ["10.1.2.3", {}, false],
  ])("host %p with %p starts: %p", (host, extra, starts) => {
    const env = { ...minimal, FERRY_HTTP_HOST: host, ...extra };
    if (starts) expect(loadConfig(env).http.host).toBe(host);
    else expect(problemsOf(env)[0]).toContain("would expose the admin API beyond this machine without a token: set FERRY_ADMIN_TOKEN");
  });

  test("a short token is refused without being shown", () => {
    const [problem] = problemsOf({ ...minimal, FERRY_ADMIN_TOKEN: "short-S3CRET" });
    expect(problem).toBe("FERRY_ADMIN_TOKEN must be at least 16 printable characters without spaces (got a value of 12 characters, not shown)");
  });
});

describe("Kafka over TLS", () => {
  const pemDir = mkdtempSync(path.join(tmpdir(), "ferry-kafka-tls-"));
  const ca = path.join(pemDir, "ca.pem");
  const key = path.join(pemDir, "key.pem");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\n");
  writeFileSync(key, "-----BEGIN PRIVATE KEY-----\n");

  test("sasl_ssl with a CA; ssl with a client certificate and an encrypted key", () => {
    const scram = loadConfig({
      ...minimal,
      FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
      FERRY_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      FERRY_KAFKA_SASL_USERNAME: "alice",
      FERRY_KAFKA_SASL_PASSWORD: "s",
      FERRY_KAFKA_SSL_CA_FILE: ca,
    });
    expect(scram.kafka.tls).toEqual({ caFile: ca });
    const mtls = loadConfig({
      ...minimal,
      FERRY_KAFKA_SECURITY_PROTOCOL: "ssl",
      FERRY_KAFKA_SSL_CA_FILE: ca,
      FERRY_KAFKA_SSL_CERT_FILE: ca,
      FERRY_KAFKA_SSL_KEY_FILE: key,
      FERRY_KAFKA_SSL_KEY_PASSWORD: "kp",
    });
    expect(mtls.kafka).toMatchObject({ securityProtocol: "ssl", tls: { caFile: ca, certFile: ca, keyFile: key, keyPassword: "kp" } });
    expect(mtls.kafka.sasl).toBeUndefined();
  });

  test.each([
    [
      { FERRY_KAFKA_SSL_CA_FILE: "CA" },
      "FERRY_KAFKA_SSL_CA_FILE is set but FERRY_KAFKA_SECURITY_PROTOCOL=plaintext does not use TLS: set it to ssl or sasl_ssl",
    ],
    [
      { FERRY_KAFKA_SECURITY_PROTOCOL: "ssl", FERRY_KAFKA_SSL_KEY_FILE: "KEY" },
      "FERRY_KAFKA_SSL_CERT_FILE and FERRY_KAFKA_SSL_KEY_FILE are set together (a client certificate and its key) or not at all",
    ],
    [
      { FERRY_KAFKA_SECURITY_PROTOCOL: "ssl", FERRY_KAFKA_SSL_CA_FILE: "/nowhere/ca.pem" },
      "FERRY_KAFKA_SSL_CA_FILE=/nowhere/ca.pem cannot be read: no such file",
    ],
    [{ FERRY_KAFKA_SECURITY_PROTOCOL: "ssl", FERRY_KAFKA_SSL_KEY_PASSWORD: "kp" }, "FERRY_KAFKA_SSL_KEY_PASSWORD is set without FERRY_KAFKA_SSL_KEY_FILE"],
  ])("%p is refused", (extra, expected) => {
    const resolved = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v === "CA" ? ca : v === "KEY" ? key : v]));
    expect(problemsOf({ ...minimal, ...resolved })).toContain(expected);
  });
});
