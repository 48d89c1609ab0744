/**
 * TLS and secrets through the compiled binary, against the TLS listeners of the real cluster and
 * the TLS-only PostgreSQL (services/README.md): SASL_SSL with SCRAM-SHA-512, mutual TLS with an
 * encrypted client key, PostgreSQL with sslmode=verify-full by password and by client
 * certificate; secrets read from files. A wrong CA, password, key password or host name fails at
 * start with one line naming the setting, without waiting. No line the binary prints, on any of
 * these paths, holds a secret.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { numberedEvents } from "../support/events.ts";
import { runFerry, type FerryProcess } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { createScenario } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { createTcpProxy } from "../support/tcp-proxy.ts";
import { tlsDatabase, tlsServices } from "../support/tls.ts";

const suite = useScenarios();
const tls = tlsServices();
let db: Awaited<ReturnType<typeof tlsDatabase>>;
beforeAll(async () => {
  db = await tlsDatabase("tls");
});
afterAll(async () => {
  await db?.drop();
});

const adminToken = `admin-token-${crypto.randomUUID()}`;
const databasePassword = new URL(tls.databaseUrl).password;
/** Every secret of this file: none may appear in anything the binary prints. */
const secrets: Record<string, string> = {
  "the SCRAM password": tls.scramUsers.get("admin")!,
  "the admin token": adminToken,
  "the database password": databasePassword,
  "the client key password": tls.clientKeyPassword,
  "a wrong SCRAM password": "wrong-scram-password-5f1c",
  "a wrong database password": "wrong-database-password-77ad",
  "a wrong key password": "wrong-key-password-93b2",
};
const printed: string[] = [];
const leaks = () =>
  Object.entries(secrets).flatMap(([name, value]) => printed.filter((line) => line.includes(value)).map((line) => `${name} in: ${line.slice(0, 200)}`));
const keep = (output: string) => printed.push(...output.split("\n"));

const dir = mkdtempSync(path.join(tmpdir(), "ferry-tls-secrets-"));
const secretFile = (name: string, value: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
};

const scram = (password: string) => ({
  FERRY_KAFKA_BROKERS: tls.saslSslBrokers,
  FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
  FERRY_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
  FERRY_KAFKA_SASL_USERNAME: "admin",
  FERRY_KAFKA_SASL_PASSWORD_FILE: secretFile(`scram-${password.length}-${printed.length}`, password),
  FERRY_KAFKA_SSL_CA_FILE: tls.caFile,
});
const mutualTls = (keyPassword: string) => ({
  FERRY_KAFKA_BROKERS: tls.sslBrokers,
  FERRY_KAFKA_SECURITY_PROTOCOL: "ssl",
  FERRY_KAFKA_SSL_CA_FILE: tls.caFile,
  FERRY_KAFKA_SSL_CERT_FILE: tls.clientCertFile,
  FERRY_KAFKA_SSL_KEY_FILE: tls.clientEncryptedKeyFile,
  FERRY_KAFKA_SSL_KEY_PASSWORD_FILE: secretFile(`key-password-${keyPassword.length}-${printed.length}`, keyPassword),
});
const databaseByPassword = (url = db.url) => ({
  FERRY_DATABASE_URL: "",
  FERRY_DATABASE_URL_FILE: secretFile(`db-url-${printed.length}`, url),
  FERRY_DATABASE_SSL_CA_FILE: tls.caFile,
});

/** Runs a scenario's worker to `count` applied events, then drains it; returns what it printed. */
async function applyThrough(name: string, env: Record<string, string>, count = 40) {
  const s = suite.track(await createScenario(name, { kafka: suite.kafka(), sql: db.sql }));
  const ferry: FerryProcess = s.start({ FERRY_LOG_LEVEL: "debug", FERRY_ADMIN_TOKEN_FILE: secretFile(`token-${name}`, adminToken), ...env });
  try {
    const { port } = (await ferry.waitForLog("http:listening", 90_000)) as { port: number };
    await suite.kafka().send(numberedEvents(s.topic, count));
    await s.waitForCommitted(count);
    expect(await s.count()).toEqual({ rows: count, ids: count });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toMatchObject({ ok: true, reasons: [] });
    // The token read from its file guards the admin API.
    expect((await fetch(`http://127.0.0.1:${port}/api/handlers`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/api/handlers`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);
    // Every connection of the worker to PostgreSQL is encrypted.
    const connections = await db.sql<{ ssl: boolean; client_dn: string | null }[]>`
      select s.ssl, s.client_dn from pg_stat_ssl s join pg_stat_activity a using (pid) where a.application_name = 'ferry' and a.datname = ${db.database}`;
    expect(connections.length).toBeGreaterThan(0);
    return { ferry, connections };
  } finally {
    ferry.proc.kill("SIGTERM");
    await ferry.exited;
    keep(ferry.output());
  }
}

describe("TLS to Kafka and PostgreSQL (compiled binary)", () => {
  test("SASL_SSL with SCRAM-SHA-512 and PostgreSQL verify-full by password, every secret from a file: events apply exactly once", async () => {
    const { ferry, connections } = await applyThrough("tls-scram", { ...scram(tls.scramUsers.get("admin")!), ...databaseByPassword() });
    expect(connections.every((c) => c.ssl)).toBe(true);
    expect(await ferry.exited).toBe(0);
  });

  test("mutual TLS with an encrypted client key, and PostgreSQL login by client certificate", async () => {
    const { ferry, connections } = await applyThrough("tls-mutual", {
      ...mutualTls(tls.clientKeyPassword),
      FERRY_DATABASE_URL: db.certUrl,
      FERRY_DATABASE_SSL_CA_FILE: tls.caFile,
      FERRY_DATABASE_SSL_CERT_FILE: tls.clientCertFile,
      FERRY_DATABASE_SSL_KEY_FILE: tls.clientKeyFile,
    });
    expect(connections.every((c) => c.ssl && c.client_dn === "/CN=ferry-client")).toBe(true);
    expect(await ferry.exited).toBe(0);
  });

  test("ferry topology plan goes through the same TLS settings (its own Kafka client)", async () => {
    const file = path.join(dir, "topology.yaml");
    writeFileSync(file, `scope:\n  topicPrefixes: [tls-plan-${crypto.randomUUID().slice(0, 8)}.]\n`);
    for (const env of [scram(tls.scramUsers.get("admin")!), mutualTls(tls.clientKeyPassword)]) {
      const { code, output } = await runFerry(["topology", "plan", "--file", file], env);
      keep(output);
      expect({ code, output }).toMatchObject({ code: 0, output: expect.stringContaining("No changes") });
    }
  });
});

describe("a connection that cannot succeed fails at start, at once, with one line naming the setting", () => {
  const handlers = writeHandlersDir({});
  const refusedAtStart = async (env: Record<string, string>, expected: RegExp) => {
    const started = performance.now();
    const { code, output } = await runFerry(["run", "--handlers", handlers], { FERRY_LOG_LEVEL: "debug", ...env });
    keep(output);
    const lines = output.trimEnd().split("\n");
    expect({ code, last: lines.at(-1) }).toMatchObject({ code: 1, last: expect.stringMatching(expected) });
    // Nothing before it but log lines (no stack trace), and no waiting: a refusal is not retried.
    expect(lines.slice(0, -1).filter((l) => !l.startsWith("{"))).toEqual([]);
    expect(output).not.toContain("startup:waiting");
    expect(output).not.toContain("unexpected failure");
    expect(performance.now() - started).toBeLessThan(20_000);
  };

  test.each([
    [
      "a wrong SCRAM password",
      () => ({ ...scram(secrets["a wrong SCRAM password"]!), ...databaseByPassword() }),
      /^ferry: Kafka at .*: the login was refused: .*SASL authentication error.*; check FERRY_KAFKA_SASL_USERNAME and FERRY_KAFKA_SASL_PASSWORD$/,
    ],
    [
      "a CA that did not sign the brokers",
      () => ({ ...scram(tls.scramUsers.get("admin")!), FERRY_KAFKA_SSL_CA_FILE: tls.otherCaFile, ...databaseByPassword() }),
      /^ferry: Kafka at .*: the brokers' TLS certificate is not trusted: .*certificate verify failed.*; check FERRY_KAFKA_SSL_CA_FILE$/,
    ],
    [
      "no client certificate for mutual TLS",
      () => ({ FERRY_KAFKA_BROKERS: tls.sslBrokers, FERRY_KAFKA_SECURITY_PROTOCOL: "ssl", FERRY_KAFKA_SSL_CA_FILE: tls.caFile, ...databaseByPassword() }),
      /^ferry: Kafka at .*: the brokers refused the client certificate: .*; check FERRY_KAFKA_SSL_CERT_FILE and FERRY_KAFKA_SSL_KEY_FILE$/,
    ],
    [
      "a wrong client key password",
      () => ({ ...mutualTls(secrets["a wrong key password"]!), ...databaseByPassword() }),
      /^ferry: Kafka at .*: the client certificate or key cannot be used: .*maybe wrong password.*; check .*FERRY_KAFKA_SSL_KEY_PASSWORD$/,
    ],
    [
      "a wrong database password",
      () => ({
        ...scram(tls.scramUsers.get("admin")!),
        ...databaseByPassword(db.url.replace(`:${databasePassword}@`, `:${secrets["a wrong database password"]}@`)),
      }),
      /^ferry: PostgreSQL at 127\.0\.0\.1:\d+: the login was refused: password authentication failed for user "postgres"; check FERRY_DATABASE_URL$/,
    ],
    [
      "a CA that did not sign the database",
      () => ({ ...scram(tls.scramUsers.get("admin")!), ...databaseByPassword(), FERRY_DATABASE_SSL_CA_FILE: tls.otherCaFile }),
      /^ferry: PostgreSQL at 127\.0\.0\.1:\d+: its TLS certificate is not trusted: .*; check FERRY_DATABASE_SSL_CA_FILE$/,
    ],
  ])("%s", async (_, env, expected) => {
    await refusedAtStart(env(), expected);
  });

  test("verify-full checks the host name: the same server reached as 127.0.0.2 is refused, while verify-ca accepts it", async () => {
    const target = new URL(db.url);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port) }, { host: "127.0.0.2" });
    try {
      const viaOtherName = db.url.replace(`@${target.host}/`, `@${proxy.address}/`);
      await refusedAtStart(
        { ...scram(tls.scramUsers.get("admin")!), ...databaseByPassword(viaOtherName) },
        /^ferry: PostgreSQL at 127\.0\.0\.2:\d+: its TLS certificate does not name the host connected to: .*127\.0\.0\.2.*; check FERRY_DATABASE_URL$/,
      );
      const verifyCa = await runFerry(["migrate"], databaseByPassword(viaOtherName.replace("sslmode=verify-full", "sslmode=verify-ca")));
      keep(verifyCa.output);
      expect(verifyCa).toMatchObject({ code: 0, output: expect.stringContaining("database is up to date") });
    } finally {
      await proxy.close();
    }
  });
});

// Last in this file: it reads what every test above made the binary print.
test("no line the binary printed on any path above holds a secret", () => {
  // What was scanned: the two workers' logs (debug level) from start to drain, and the seven refusals.
  expect(printed.filter((line) => line.startsWith("{")).length).toBeGreaterThan(30);
  expect(printed.filter((line) => line.startsWith("ferry: ") && line.includes("; check FERRY_"))).toHaveLength(7);
  expect(leaks()).toEqual([]);
});
