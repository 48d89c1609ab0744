import { describe, expect, test } from "bun:test";
import { configProblems } from "./config-problems.ts";
import { loadConfig } from "./load.ts";
import { loadProduceConfig, loadSchemasConfig } from "./load-tools.ts";

const run = { FERRY_KAFKA_BROKERS: "127.0.0.1:9092", FERRY_DATABASE_URL: "postgres://p@127.0.0.1/app", FERRY_HANDLERS_DIR: "./handlers" };

const problemsOf = configProblems;

describe("schema registry settings", () => {
  test("ferry run: no registry by default; TopicName strategy; the gate fails start", () => {
    expect(loadConfig(run).schemas).toEqual({ strategy: "TopicName", gate: "fail" });
  });

  test("URL, basic auth, TLS files, timeouts and retries become one typed connection", () => {
    const config = loadConfig({
      ...run,
      FERRY_SCHEMA_REGISTRY_URL: "https://registry:8081",
      FERRY_SCHEMA_REGISTRY_USERNAME: "ci",
      FERRY_SCHEMA_REGISTRY_PASSWORD: "secret",
      FERRY_SCHEMA_REGISTRY_CA_FILE: "/etc/ca.pem",
      FERRY_SCHEMA_REGISTRY_TIMEOUT_MS: "2500",
      FERRY_SCHEMA_REGISTRY_RETRIES: "0",
      FERRY_SCHEMA_SUBJECT_STRATEGY: "TopicRecordName",
      FERRY_SCHEMA_GATE: "not-ready",
    });
    expect(config.schemas).toEqual({
      registry: {
        url: "https://registry:8081",
        auth: { username: "ci", password: "secret" },
        tls: { caFile: "/etc/ca.pem", rejectUnauthorized: true },
        timeoutMs: 2500,
        retries: 0,
      },
      strategy: "TopicRecordName",
      gate: "not-ready",
    });
  });

  test("every problem at once, each naming its variable", () => {
    const problems = problemsOf(() =>
      loadConfig({ ...run, FERRY_SCHEMA_REGISTRY_URL: "registry:8081", FERRY_SCHEMA_SUBJECT_STRATEGY: "Topic", FERRY_SCHEMA_GATE: "warn" }),
    );
    expect(problems.length).toBe(3);
    expect(problems.join("\n")).toContain("FERRY_SCHEMA_REGISTRY_URL must be an http:// or https:// URL");
    expect(problems.join("\n")).toContain("FERRY_SCHEMA_SUBJECT_STRATEGY must be one of: TopicName, RecordName, TopicRecordName");
    expect(problems.join("\n")).toContain("FERRY_SCHEMA_GATE must be one of: fail, not-ready");
  });

  test("a username needs a password", () => {
    expect(problemsOf(() => loadConfig({ ...run, FERRY_SCHEMA_REGISTRY_URL: "http://r", FERRY_SCHEMA_REGISTRY_USERNAME: "ci" }))[0]).toContain("set together");
  });
});

describe("tool settings", () => {
  test("ferry schemas: defaults", () => {
    expect(loadSchemasConfig({})).toEqual({
      dir: "schemas",
      strategy: "TopicName",
      format: "text",
      offline: false,
      dryRun: false,
      checkOnly: false,
      level: "BACKWARD",
    });
  });

  test("ferry produce: names what is missing", () => {
    const problems = problemsOf(() => loadProduceConfig({ FERRY_KAFKA_BROKERS: "127.0.0.1:9092" }));
    expect(problems).toEqual([expect.stringContaining("--registry-url"), expect.stringContaining("--topic"), expect.stringContaining("--schema")]);
  });
});
