/**
 * A network partition between a running worker and PostgreSQL, made by a TCP proxy in the test
 * between the compiled binary and the server: while it lasts, /readyz answers 503 with the reason
 * within its bound (never a hung request) and /healthz still answers; the outage is logged once
 * when it starts (warn) and once when it ends (info, with its duration); afterwards every event,
 * including those produced during the partition, is applied exactly once.
 */
import { afterEach, expect, test } from "bun:test";
import { testServices } from "../support/env.ts";
import { numberedEvents } from "../support/events.ts";
import { useScenarios } from "../support/suite.ts";
import { createTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
});

/** How long the partition lasts: the fault itself, not a wait for something. */
const partitionMs = 8_000;
const boundMs = 1_500;

async function timedGet(url: string) {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { ok: boolean; reasons: string[] }, ms: performance.now() - started };
}

test("a PostgreSQL partition: /readyz answers 503 within its bound, one log line when it starts and one when it ends, effects exact", async () => {
  const s = await suite.scenario("pg-partition");
  const target = /@([^:/]+):(\d+)\//.exec(testServices().databaseUrl)!;
  proxy = await createTcpProxy({ host: target[1]!, port: Number(target[2]) });
  const ferry = s.start({
    FERRY_DATABASE_URL: testServices().databaseUrl.replace(/@[^/]+\//, `@${proxy.address}/`),
    FERRY_HEALTH_CHECK_INTERVAL_MS: "500",
  });
  const { port } = (await ferry.waitForLog("http:listening", 90_000)) as { port: number };
  const base = `http://127.0.0.1:${port}`;
  await suite.kafka().send(numberedEvents(s.topic, 100, { prefix: `${s.topic}-before` }));
  await s.waitForCommitted(100);
  await waitFor("ready before the partition", async () => (await timedGet(`${base}/readyz`)).status === 200);

  proxy.pause();
  const cutAt = performance.now();
  await suite.kafka().send(numberedEvents(s.topic, 100, { prefix: `${s.topic}-during` }));
  const unavailable = await ferry.waitForLog("dependency:unavailable", 10_000);
  expect(unavailable).toMatchObject({ level: "warn", dependency: "PostgreSQL", setting: "FERRY_DATABASE_URL", address: proxy.address });
  expect(performance.now() - cutAt).toBeLessThan(5_000);

  // Every probe during the partition gets its answer within the bound: a 503 that says why.
  const probes: Array<Awaited<ReturnType<typeof timedGet>>> = [];
  while (performance.now() - cutAt < partitionMs - boundMs) {
    const ready = await timedGet(`${base}/readyz`);
    probes.push(ready);
    const alive = await timedGet(`${base}/healthz`);
    expect(alive.status).toBe(200);
    expect(alive.ms).toBeLessThan(boundMs);
  }
  expect(probes.length).toBeGreaterThanOrEqual(3);
  for (const ready of probes) {
    expect(ready.status).toBe(503);
    expect(ready.ms).toBeLessThan(boundMs);
    expect(ready.body.reasons).toContainEqual(
      expect.stringMatching(new RegExp(`^PostgreSQL unreachable \\(FERRY_DATABASE_URL, ${proxy.address}\\): no answer within 1000 ms$`)),
    );
  }
  // Still mid-partition: nothing of the second hundred could have been applied.
  expect(await s.count()).toEqual({ rows: 100, ids: 100 });
  while (performance.now() - cutAt < partitionMs) await Bun.sleep(50);

  proxy.resume();
  const recovered = await ferry.waitForLog("dependency:recovered", 15_000);
  expect(recovered).toMatchObject({ level: "info", dependency: "PostgreSQL", setting: "FERRY_DATABASE_URL", address: proxy.address });
  expect(Number(recovered.downForMs)).toBeGreaterThan(partitionMs - 3_000);
  await s.waitForCommitted(200);
  expect(await s.count()).toEqual({ rows: 200, ids: 200 });
  await waitFor("ready again", async () => (await timedGet(`${base}/readyz`)).status === 200);

  // One line per transition, not one per failed check.
  const transitions = ferry.logs.filter((l) => String(l.msg).startsWith("dependency:"));
  expect(transitions.map((l) => [l.msg, l.dependency])).toEqual([
    ["dependency:unavailable", "PostgreSQL"],
    ["dependency:recovered", "PostgreSQL"],
  ]);
  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
});
