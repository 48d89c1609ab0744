import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { configProblems, minimalRunEnv } from "./config-problems.ts";
import { loadConfig, loadMigrateConfig, loadTopologyConfig } from "./load.ts";
import { loadProduceConfig } from "./load-tools.ts";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-secrets-"));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

const minimal = minimalRunEnv;

const problemsOf = configProblems;

describe("secrets from files (FERRY_X_FILE)", () => {
  test("each secret is read from its file, trailing line breaks dropped", () => {
    const { FERRY_DATABASE_URL: _, ...rest } = minimal;
    const config = loadConfig({
      ...rest,
      FERRY_DATABASE_URL_FILE: file("db-url", "postgres://app:s3cret@db:5432/app\n"),
      FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
      FERRY_KAFKA_SASL_USERNAME: "alice",
      FERRY_KAFKA_SASL_PASSWORD_FILE: file("sasl", "  spaced secret  \r\n"),
      FERRY_ADMIN_TOKEN_FILE: file("token", "a-token-of-sixteen-chars\n\n"),
      FERRY_SCHEMA_REGISTRY_URL: "http://registry:8081",
      FERRY_SCHEMA_REGISTRY_USERNAME: "ferry",
      FERRY_SCHEMA_REGISTRY_PASSWORD_FILE: file("registry", "reg-pass"),
    });
    expect(config.database.url).toBe("postgres://app:s3cret@db:5432/app");
    expect(config.database.address).toBe("db:5432");
    // Only line breaks go: spaces may be part of a password.
    expect(config.kafka.sasl?.password).toBe("  spaced secret  ");
    expect(config.admin.token).toBe("a-token-of-sixteen-chars");
    expect(config.schemas.registry?.auth).toEqual({ username: "ferry", password: "reg-pass" });
  });

  test("the SSL key password comes from a file too", () => {
    const ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\n...\n");
    const config = loadConfig({
      ...minimal,
      FERRY_KAFKA_SECURITY_PROTOCOL: "ssl",
      FERRY_KAFKA_SSL_CA_FILE: ca,
      FERRY_KAFKA_SSL_CERT_FILE: ca,
      FERRY_KAFKA_SSL_KEY_FILE: file("key.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
      FERRY_KAFKA_SSL_KEY_PASSWORD_FILE: file("key-pass", "kp\n"),
    });
    expect(config.kafka.tls?.keyPassword).toBe("kp");
  });

  test("a setting given both ways names both", () => {
    const problems = problemsOf(() => loadConfig({ ...minimal, FERRY_DATABASE_URL_FILE: file("url2", "postgres://x@y/z") }));
    expect(problems).toEqual(["FERRY_DATABASE_URL and FERRY_DATABASE_URL_FILE are both set: set only one of them"]);
  });

  test.each([
    ["a missing file", path.join(dir, "absent"), "cannot be read: no such file"],
    ["a directory", dir, "cannot be read: it is a directory"],
    ["an empty file", file("empty", "\n"), "is empty: it must hold the value of FERRY_ADMIN_TOKEN"],
  ])("%s is one problem naming the setting and the path", (_, p, expected) => {
    const problems = problemsOf(() => loadConfig({ ...minimal, FERRY_ADMIN_TOKEN_FILE: p }));
    expect(problems).toEqual([`FERRY_ADMIN_TOKEN_FILE=${p} ${expected}`]);
  });

  test("a value from a file is checked like a set one, and never shown", () => {
    const p = file("short-token", "short-S3CRET\n");
    const problems = problemsOf(() => loadConfig({ ...minimal, FERRY_ADMIN_TOKEN_FILE: p }));
    expect(problems).toEqual([
      `FERRY_ADMIN_TOKEN must be at least 16 printable characters without spaces (got a value of 12 characters, not shown, read from FERRY_ADMIN_TOKEN_FILE=${p})`,
    ]);
  });

  test("a bad database URL shows its scheme, never the rest", () => {
    const { FERRY_DATABASE_URL: _, ...rest } = minimal;
    const problems = problemsOf(() => loadConfig({ ...rest, FERRY_DATABASE_URL_FILE: file("mysql", "mysql://u:TOPSECRET@h/db") }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('starting with "mysql://"');
    expect(problems[0]).not.toContain("TOPSECRET");
  });

  test("commands read only the files of their own settings", () => {
    const broken = path.join(dir, "absent");
    // `ferry migrate` needs no admin token: a broken token file is not its problem.
    expect(loadMigrateConfig({ FERRY_DATABASE_URL: minimal.FERRY_DATABASE_URL, FERRY_ADMIN_TOKEN_FILE: broken }).database.address).toBe("127.0.0.1:5432");
    expect(
      problemsOf(() => loadTopologyConfig({ FERRY_KAFKA_BROKERS: "k:9092", FERRY_TOPOLOGY_FILE: "t.yaml", FERRY_KAFKA_SASL_PASSWORD_FILE: broken })),
    ).toEqual([`FERRY_KAFKA_SASL_PASSWORD_FILE=${broken} cannot be read: no such file`]);
    const produce = loadProduceConfig({
      FERRY_KAFKA_BROKERS: "k:9092",
      FERRY_SCHEMA_REGISTRY_URL: "http://r:8081",
      FERRY_SCHEMA_REGISTRY_USERNAME: "u",
      FERRY_SCHEMA_REGISTRY_PASSWORD_FILE: file("reg2", "p2\n"),
      FERRY_PRODUCE_TOPIC: "t",
      FERRY_PRODUCE_SCHEMA: "s.avsc",
    });
    expect(produce.registry.auth?.password).toBe("p2");
  });
});
