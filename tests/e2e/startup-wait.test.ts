/**
 * Start-up while a backing service is not there yet (ordinary in Kubernetes, where pods start in
 * any order), through the compiled binary: PostgreSQL or Kafka behind a port that refuses at
 * first is waited for, one log line per attempt naming the setting and the address, and the
 * worker then applies events; past FERRY_STARTUP_TIMEOUT_MS it exits 1 with one line, no stack.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { testServices } from "../support/env.ts";
import { numberedEvents } from "../support/events.ts";
import type { FerryProcess } from "../support/ferry-process.ts";
import { runFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { createTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

const hostPort = (address: string) => {
  const [host, port] = address.split(":");
  return { host: host!, port: Number(port) };
};
const databaseTarget = () => hostPort(/@([^/]+)\//.exec(testServices().databaseUrl)![1]!);

/** Every line the process printed is a JSON log line: no stack trace, no stray text. */
function expectOnlyLogLines(ferry: FerryProcess) {
  const stray = ferry
    .output()
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("{"));
  expect(stray).toEqual([]);
}

async function waitingLines(ferry: FerryProcess, setting: string, count: number) {
  return waitFor(`${count} startup:waiting lines for ${setting}`, () => {
    const lines = ferry.logs.filter((l) => l.msg === "startup:waiting" && l.setting === setting);
    return lines.length >= count ? lines : undefined;
  });
}

describe("waiting for backing services at start", () => {
  test("waits for PostgreSQL to open its port, one line per attempt, then applies events", async () => {
    const s = await suite.scenario("wait-pg");
    const proxy = await createTcpProxy(databaseTarget(), { listen: false });
    proxies.push(proxy);
    const ferry = s.start({ FERRY_DATABASE_URL: testServices().databaseUrl.replace(/@[^/]+\//, `@${proxy.address}/`) });
    const waiting = await waitingLines(ferry, "FERRY_DATABASE_URL", 2);
    expect(waiting[0]).toMatchObject({ level: "warn", dependency: "PostgreSQL", address: proxy.address, attempt: 1, retryInMs: 500 });
    expect(waiting[1]).toMatchObject({ attempt: 2, retryInMs: 1000 });
    expect(String(waiting[0]!.error)).toContain("ECONNREFUSED");
    expect(ferry.logs.some((l) => l.msg === "engine:running")).toBe(false);

    await proxy.open();
    const reached = await ferry.waitForLog("startup:reachable");
    expect(reached).toMatchObject({ setting: "FERRY_DATABASE_URL", address: proxy.address });
    expect(Number(reached.attempts)).toBeGreaterThanOrEqual(3);
    await ferry.waitForLog("engine:running");
    await suite.kafka().send(numberedEvents(s.topic, 20));
    await s.waitForCommitted(20);
    expect(await s.count()).toEqual({ rows: 20, ids: 20 });
    ferry.proc.kill("SIGTERM");
    expect(await ferry.exited).toBe(0);
    expectOnlyLogLines(ferry);
  });

  test("waits for Kafka to open its port, then applies events", async () => {
    const s = await suite.scenario("wait-kafka");
    // The proxy is only the bootstrap address: the brokers then advertise their own.
    const proxy = await createTcpProxy(hostPort(testServices().brokers.split(",")[0]!), { listen: false });
    proxies.push(proxy);
    const ferry = s.start({ FERRY_KAFKA_BROKERS: proxy.address });
    const waiting = await waitingLines(ferry, "FERRY_KAFKA_BROKERS", 2);
    expect(waiting[0]).toMatchObject({ level: "warn", dependency: "Kafka", address: proxy.address, attempt: 1 });
    expect(String(waiting[0]!.error)).toContain("Connection refused");

    await proxy.open();
    await ferry.waitForLog("startup:reachable");
    await ferry.waitForLog("engine:running");
    await suite.kafka().send(numberedEvents(s.topic, 20));
    await s.waitForCommitted(20);
    expect(await s.count()).toEqual({ rows: 20, ids: 20 });
    ferry.proc.kill("SIGTERM");
    expect(await ferry.exited).toBe(0);
    expectOnlyLogLines(ferry);
  });

  test("waits for a configured schema registry too", async () => {
    const s = await suite.scenario("wait-registry");
    const registry = new URL(testServices().registryUrl);
    const proxy = await createTcpProxy({ host: registry.hostname, port: Number(registry.port) }, { listen: false });
    proxies.push(proxy);
    const ferry = s.start({ FERRY_SCHEMA_REGISTRY_URL: `http://${proxy.address}${registry.pathname}` });
    const [first] = await waitingLines(ferry, "FERRY_SCHEMA_REGISTRY_URL", 1);
    expect(first).toMatchObject({ level: "warn", dependency: "the schema registry", address: proxy.address, attempt: 1 });
    await proxy.open();
    await ferry.waitForLog("engine:running");
    await suite.kafka().send(numberedEvents(s.topic, 5));
    await s.waitForCommitted(5);
    ferry.proc.kill("SIGTERM");
    expect(await ferry.exited).toBe(0);
    expectOnlyLogLines(ferry);
  });

  test("gives up after FERRY_STARTUP_TIMEOUT_MS with one line naming the setting and address, exit 1", async () => {
    const proxy = await createTcpProxy(databaseTarget(), { listen: false });
    proxies.push(proxy);
    const started = performance.now();
    const { code, output } = await runFerry(["run", "--handlers", writeHandlersDir({})], {
      FERRY_DATABASE_URL: `postgres://postgres:some-password@${proxy.address}/postgres`,
      FERRY_STARTUP_TIMEOUT_MS: "3000",
    });
    const elapsed = performance.now() - started;
    expect(code).toBe(1);
    const lines = output.trimEnd().split("\n");
    const last = lines.at(-1)!;
    expect(last).toBe(
      `ferry: PostgreSQL at ${proxy.address} (FERRY_DATABASE_URL) could not be reached within 3 s (FERRY_STARTUP_TIMEOUT_MS): connect ECONNREFUSED ${proxy.address}`,
    );
    // Everything before it is a log line: no stack trace, and never the password.
    expect(lines.slice(0, -1).every((l) => JSON.parse(l).msg === "startup:waiting")).toBe(true);
    expect(output).not.toContain("some-password");
    expect(output).not.toContain("unexpected failure");
    expect(elapsed).toBeGreaterThan(3_000);
    expect(elapsed).toBeLessThan(15_000);
  });

  test("a stop signal while waiting ends the start cleanly (exit 0)", async () => {
    const proxy = await createTcpProxy(databaseTarget(), { listen: false });
    proxies.push(proxy);
    const s = await suite.scenario("wait-stop");
    const ferry = s.start({ FERRY_DATABASE_URL: testServices().databaseUrl.replace(/@[^/]+\//, `@${proxy.address}/`) });
    await waitingLines(ferry, "FERRY_DATABASE_URL", 1);
    ferry.proc.kill("SIGTERM");
    expect(await ferry.exited).toBe(0);
    expect(ferry.logs.some((l) => l.msg === "engine:start-aborted")).toBe(true);
    expectOnlyLogLines(ferry);
  });

  test("commands that do not wait (migrate, dlt) report an unreachable service in one line too", async () => {
    const closed = await createTcpProxy(databaseTarget(), { listen: false });
    proxies.push(closed);
    const migrate = await runFerry(["migrate", "--database-url", `postgres://postgres:pw-not-shown@${closed.address}/x`]);
    expect(migrate.code).toBe(1);
    expect(migrate.output.trim()).toBe(
      `ferry: PostgreSQL at ${closed.address} (FERRY_DATABASE_URL) could not be reached: connect ECONNREFUSED ${closed.address}`,
    );
    const handlers = writeHandlersDir({ "h.ts": 'import { defineHandler } from "ferry";\nexport default defineHandler({ topic: "t", async handle() {} });\n' });
    const dlt = await runFerry(["dlt", "list", "--handlers", handlers], { FERRY_KAFKA_BROKERS: closed.address, FERRY_LOG_LEVEL: "error" });
    expect(dlt.code).toBe(1);
    const last = dlt.output.trimEnd().split("\n").at(-1)!;
    expect(last).toStartWith(`ferry: Kafka at ${closed.address} (FERRY_KAFKA_BROKERS) failed: `);
    expect(dlt.output).not.toContain("unexpected failure");
  });
});
