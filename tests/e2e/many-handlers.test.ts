/**
 * Thirty handlers on thirty topics in one worker, through the compiled binary on the real services.
 * Each handler has a consumer of its own, and the addon's calls share Bun's worker threads (one per
 * core): before at most one consumer waited inside librdkafka's `consume` (kafka/fetch-waits.ts),
 * the fetch loops held every thread on a 2-core machine, each handler's connect waited longer than
 * the last (start-up 113 s) and the Kafka health check got no thread within its second, so /readyz
 * failed (`dependency:unavailable`) while Kafka was fine.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const HANDLERS = 30;
const PER_TOPIC = 100;
const suite = useScenarios();
// A database of its own: its connections are the worker's alone to count.
const admin = testSql();
const database = `many_handlers_${randomUUID().slice(0, 8)}`;
afterAll(async () => {
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.end();
});

const handler = (topic: string, name: string) => `import { defineHandler } from "ferry";
export default defineHandler<{ n: number }>({
  topic: ${JSON.stringify(topic)},
  async handle(p, ctx) {
    await ctx.sql\`insert into effects (handler, event_id, n) values (${`'${name}'`}, \${ctx.event.id}, \${p.n})\`;
  },
});
`;

const processStatus = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { rssMb: Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024), threads: Number(/Threads:\s+(\d+)/.exec(status)![1]) };
};

test("30 handlers on 30 topics: ready within seconds, no false Kafka outage, a bounded pool, every event applied exactly once", async () => {
  await admin.unsafe(`create database ${database}`);
  const url = new URL(testServices().databaseUrl);
  url.pathname = `/${database}`;
  const kafka = suite.kafka();
  const topics = await Promise.all(Array.from({ length: HANDLERS }, (_, i) => kafka.createTopic(`many-${i}`, 3)));
  const files = Object.fromEntries(topics.map((topic, i) => [`h${String(i).padStart(2, "0")}.ts`, handler(topic, `h${i}`)]));
  const dir = writeHandlersDir(files, {
    "0001_effects.sql": "create table effects (id bigserial primary key, handler text not null, event_id text not null, n int not null);",
  });

  const ferry = startFerry(["run", "--handlers", dir, "--group-prefix", `many-${randomUUID().slice(0, 8)}`], {
    FERRY_DATABASE_URL: url.toString(),
    FERRY_DATABASE_POOL_SIZE: "10",
  });
  suite.track({ cleanup: () => ferry.proc.exitCode === null && ferry.proc.kill("SIGKILL") });
  const loading = Date.parse(String((await ferry.waitForLog("handlers:loading")).time));
  const running = Date.parse(String((await ferry.waitForLog("engine:running")).time));
  const { port } = (await ferry.waitForLog("http:listening")) as { port: number };
  await waitFor("/readyz ok", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, intervalMs: 250 });
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const connections = async () => (await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${database}`)[0]!.n - 1;
    const idle = { ...processStatus(ferry.proc.pid), connections: await connections() };

    const records = topics.flatMap((topic, i) =>
      Array.from({ length: PER_TOPIC }, (_, n) => ({ topic, key: `k${n % 7}`, value: JSON.stringify({ n }), headers: { "event-id": `${i}-${n}` } })),
    );
    const sentAt = Date.now();
    await kafka.send(records);
    await waitFor("every event applied", async () => (await sql<{ n: number }[]>`select count(*)::int as n from effects`)[0]!.n >= records.length, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const appliedMs = Date.now() - sentAt;
    const busy = { ...processStatus(ferry.proc.pid), connections: await connections() };
    console.log(
      `many handlers: ${HANDLERS} handlers ran after ${running - loading} ms; idle ${JSON.stringify(idle)}; ${records.length} events in ${appliedMs} ms; then ${JSON.stringify(busy)}`,
    );

    const [counts] = await sql<{ rows: number; ids: number; handlers: number }[]>`
      select count(*)::int as rows, count(distinct handler || '/' || event_id)::int as ids, count(distinct handler)::int as handlers from effects`;
    expect(counts).toEqual({ rows: records.length, ids: records.length, handlers: HANDLERS });
    expect(running - loading).toBeLessThan(20_000);
    // The engine's pool, its LISTEN connection and a health check's: not one per handler.
    expect(busy.connections).toBeLessThanOrEqual(10 + 3);
    expect(ferry.logs.filter((l) => l.msg === "dependency:unavailable")).toEqual([]);
  } finally {
    await sql.end();
  }
  ferry.proc.kill("SIGTERM");
  expect(await ferry.exited).toBe(0);
}, 120_000);
