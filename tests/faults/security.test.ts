/**
 * Security under use: the compiled worker connects with SASL as a service principal holding
 * only the ACLs `ferry topology apply --handlers` granted; its admin API refuses every request
 * without its token (and does nothing for it); and nothing it logs, even at debug level and on
 * every failure path, contains an event's payload or headers, a password or the admin token.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { runFerry, startFerry } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { saslConnection, testTopology } from "../support/topology.ts";
import { waitFor } from "../support/wait.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
import { keepLog, reportCounts } from "./support/report.ts";

const sql = testSql();
const kafka = faultKafka(testServices().brokers);
const t = testTopology(["User:alice"]);
afterAll(async () => {
  await t.cleanup();
  await kafka.close();
  await sql.end();
});

const marker = `PAYLOAD-${randomUUID()}`;
const secrets = {
  saslPassword: saslConnection("alice").sasl!.password,
  adminToken: `token-${randomUUID()}`,
  databasePassword: `dbpass-${randomUUID()}`,
  registryPassword: `regpass-${randomUUID()}`,
};
const databaseUrl = testServices().databaseUrl.replace("postgres://postgres@", `postgres://postgres:${secrets.databasePassword}@`); // trust auth ignores it
const secretEnv = {
  FERRY_KAFKA_BROKERS: saslConnection("alice").brokers.join(","),
  FERRY_KAFKA_SECURITY_PROTOCOL: "sasl_plaintext",
  FERRY_KAFKA_SASL_USERNAME: "alice",
  FERRY_KAFKA_SASL_PASSWORD: secrets.saslPassword,
  FERRY_ADMIN_TOKEN: secrets.adminToken,
  FERRY_DATABASE_URL: databaseUrl,
  // A configured registry is waited for at start: the real one (it ignores the basic auth).
  FERRY_SCHEMA_REGISTRY_URL: testServices().registryUrl,
  FERRY_SCHEMA_REGISTRY_USERNAME: "ferry",
  FERRY_SCHEMA_REGISTRY_PASSWORD: secrets.registryPassword,
};

/** Every secret and payload fragment found in `text`, by name. */
function leaks(text: string): string[] {
  const found = Object.entries(secrets)
    .filter(([, value]) => text.includes(value))
    .map(([name]) => name);
  if (text.includes(marker)) found.push("payload");
  return found;
}

test("as a least-privilege SASL principal the worker applies and dead-letters; the admin API refuses without its token; no log line leaks a payload or secret", async () => {
  const topic = `${t.prefix}.orders`;
  const table = `faults_security_${randomUUID().slice(0, 8)}`;
  const handlersDir = writeHandlersDir(
    {
      "record-effect.ts": effectsHandler({
        topic,
        table,
        businessKey: true,
        // A handler whose error message carries the payload, as careless handlers do.
        extra: `if (p.fail === "leak") throw new Error("cannot apply " + JSON.stringify(p));`,
      }),
    },
    { [`0001_${table}.sql`]: effectsTableMigration(table) },
  );
  await t.apply(`topics:\n  ${topic}: { partitions: 2 }\nservices:\n  worker:\n    principal: User:alice\n`, { handlersDir });
  const worker = startFerry(["run", "--handlers", handlersDir], {
    ...secretEnv,
    FERRY_GROUP_PREFIX: t.prefix,
    FERRY_CREATE_DEAD_LETTER_TOPICS: "false", // alice has no CREATE grant: apply made the topics
    FERRY_LOG_LEVEL: "debug",
  });
  const producer = await kafka.ackProducer();
  try {
    const listening = await worker.waitForLog("http:listening", 90_000);
    await worker.waitForLog("partitions:assigned", 90_000);
    const base = `http://127.0.0.1:${listening.port}`;

    // Every payload path: applied, functional duplicate, permanent, exhausted with the payload in
    // the error, undecodable, a marked header, and the payload in the Kafka key.
    const event = (n: number, extra: Record<string, unknown> = {}, id = `${topic}-${n}`) => ({
      topic,
      key: `${marker}-key`,
      value: JSON.stringify({ n, key: `${topic}-biz-${n}`, seq: n, secret: marker, ...extra }),
      headers: { "event-id": id, "x-customer": marker },
      eventId: id,
      intent: { kind: "apply" as const },
    });
    await producer.send([
      ...Array.from({ length: 20 }, (_, n) => event(n)),
      { ...event(20, { key: `${topic}-biz-0` }, `${topic}-dup`) },
      event(21, { fail: "permanent" }),
      event(22, { fail: "leak" }),
      { ...event(23), value: `{"secret": "${marker}", not json` },
    ]);
    expect(produceSummary(producer.produced)).toMatchObject({ acknowledged: 24, failed: 0 });

    // The admin API: without the token, with a wrong one, in another scheme or the query string.
    const paths: Array<[string, string]> = [
      ["GET", "/api/handlers"],
      ["POST", "/api/handlers/record-effect/pause"],
      ["POST", "/api/handlers/record-effect/resume"],
      ["GET", "/api/handlers/record-effect/dead-letters"],
      ["POST", "/api/handlers/record-effect/dead-letters/replay"],
      ["GET", "/api/no-such-route"],
    ];
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer not-the-token-0123456789" },
      { authorization: `Basic ${btoa(`admin:${secrets.adminToken}`)}` },
      { authorization: secrets.adminToken },
    ];
    const statuses: Record<string, number> = {};
    for (const [method, path] of paths) {
      for (const headers of attempts) {
        const res = await fetch(`${base}${path}${Object.keys(headers).length === 0 ? `?token=${secrets.adminToken}` : ""}`, {
          method,
          headers: { ...headers, "content-type": "application/json" },
          ...(method === "POST" ? { body: JSON.stringify({ eventIds: [`${topic}-21`], dryRun: false }) } : {}),
        });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }
    // Refused, each one: 401 without a token or with a wrong one, 400 for a malformed Authorization header.
    expect(Object.keys(statuses).every((status) => status === "401" || status === "400")).toBe(true);
    expect((statuses[401] ?? 0) + (statuses[400] ?? 0)).toBe(paths.length * attempts.length);
    // Nothing was done for them: not paused, nothing replayed.
    const authorized = { authorization: `Bearer ${secrets.adminToken}` };
    const listed = (await (await fetch(`${base}/api/handlers`, { headers: authorized })).json()) as { handlers: Array<{ name: string; state: string }> };
    expect(listed.handlers.find((h) => h.name === "record-effect")?.state).toBe("running");

    const committed = async () => [...(await kafka.committed(`${t.prefix}.record-effect`, topic)).values()].reduce((a, b) => a + b, 0n);
    await waitFor("every record committed by alice's worker", async () => (await committed()) === 24n, { timeoutMs: 90_000, intervalMs: 250 });
    const [rows] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`;
    const dlt = (await kafka.readAll(`${topic}.dlt`)).map((r) => r.headers["ferry-reason"]?.toString()).sort();
    expect(rows!.n).toBe(20);
    expect(dlt).toEqual(["decode-failed", "exhausted", "functional-duplicate", "permanent"]);

    // The scan: everything the worker wrote, raw (JSON lines, the Kafka client's lines, anything else).
    worker.proc.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    const output = worker.output();
    keepLog("security-worker", output);
    // A configuration error must not echo the secrets either.
    const refused = await runFerry(["run", "--handlers", handlersDir], {
      ...secretEnv,
      FERRY_BATCH_SIZE: "lots",
      FERRY_HTTP_HOST: "0.0.0.0",
      FERRY_ADMIN_TOKEN: "short",
    });
    expect(refused.code).toBe(2);
    reportCounts("security", {
      adminRequestsRefused: statuses,
      applied: rows!.n,
      deadLettered: dlt,
      logLines: output.split("\n").length,
      logBytes: output.length,
      secretsChecked: Object.keys(secrets).length + 1,
      leaksInWorkerLog: leaks(output),
      leaksInConfigError: leaks(refused.output),
    });
    expect(output).not.toMatch(/authori[sz]ation failed/i);
    expect(leaks(output)).toEqual([]);
    expect(leaks(refused.output)).toEqual([]);
  } finally {
    await producer.close();
    if (worker.proc.exitCode === null) worker.proc.kill("SIGKILL");
    await sql.unsafe(`drop table if exists ${table}`);
  }
});
