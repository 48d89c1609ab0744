/**
 * Exactly once in effect, under crashes, rebalances and a database outage: exact counts against
 * the real 3-node cluster and PostgreSQL, through the compiled binary.
 */
import { describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { testServices } from "../support/env.ts";
import { mixedWorkload, numberedEvents, type MixedWorkload } from "../support/events.ts";
import type { FerryProcess } from "../support/ferry-process.ts";
import { useScenarios } from "../support/suite.ts";
import { createScenario, header, type EffectRow } from "../support/scenario.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql, scenario } = suite;

/** Every expected event applied exactly once, nothing else, and per Kafka key in sequence order. */
function expectExactEffects(effects: EffectRow[], expected: string[]) {
  const ids = effects.map((e) => e.event_id);
  expect(ids.length).toBe(expected.length);
  expect(new Set(ids).size).toBe(expected.length);
  expect([...ids].sort()).toEqual([...expected].sort());
  const lastSeq = new Map<string, number>();
  for (const e of effects) {
    const previous = lastSeq.get(e.kafka_key!) ?? 0;
    if (e.seq <= previous) throw new Error(`order broken for key ${e.kafka_key}: seq ${e.seq} applied after ${previous}`);
    lastSeq.set(e.kafka_key!, e.seq);
  }
}

async function expectDeadLettersAre(s: Awaited<ReturnType<typeof scenario>>, workload: MixedWorkload) {
  const letters = await s.readDeadLetters(workload.functionalDuplicates.length, 90_000);
  const got = letters.map((l) => ({ eventId: header(l, "ferry-event-id"), heldBy: header(l, "ferry-held-by-event-id"), reason: header(l, "ferry-reason") }));
  // A crash after the dead letter was acknowledged but before COMMIT produces it again: at least once.
  const distinct = [...new Map(got.map((g) => [g.eventId, g])).values()];
  expect(distinct.sort((a, b) => a.eventId!.localeCompare(b.eventId!))).toEqual(
    workload.functionalDuplicates.map((f) => ({ ...f, reason: "functional-duplicate" })).sort((a, b) => a.eventId.localeCompare(b.eventId)),
  );
}

const progress = (s: Awaited<ReturnType<typeof scenario>>, atLeast: number) => s.waitForEffects(atLeast, 120_000);

describe("exactly once in effect", () => {
  test("20,000 events with 5% technical and 1% functional duplicates, worker SIGKILLed 3 times", async () => {
    const s = await scenario("crashes", { partitions: 6, businessKey: true });
    const workload = mixedWorkload(s.topic, 20_000);
    expect(workload.technicalDuplicates).toBeGreaterThan(800);
    expect(workload.functionalDuplicates.length).toBeGreaterThan(150);
    await suite.kafka().send(workload.records);
    const env = { FERRY_BATCH_SIZE: "200" };
    let worker = s.start(env);
    for (const share of [0.15, 0.4, 0.65]) {
      await progress(s, Math.floor(20_000 * share));
      worker.proc.kill("SIGKILL");
      await worker.exited;
      worker = s.start(env);
    }
    await s.waitForCommitted(workload.records.length, 180_000);
    expectExactEffects(await s.effects(), workload.applied);
    await expectDeadLettersAre(s, workload);
  });

  test("three workers joining and leaving mid-run give the same exact result", async () => {
    const s = await scenario("rebalance", { partitions: 6, businessKey: true });
    const workload = mixedWorkload(s.topic, 10_000, { seed: 7 });
    await suite.kafka().send(workload.records);
    const env = { FERRY_BATCH_SIZE: "100" };
    const a = s.start(env);
    await progress(s, 1_500);
    const b = s.start(env);
    await progress(s, 3_500);
    const c = s.start(env);
    await progress(s, 5_000);
    a.proc.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    await progress(s, 7_000);
    b.proc.kill("SIGKILL");
    await s.waitForCommitted(workload.records.length, 180_000);
    expectExactEffects(await s.effects(), workload.applied);
    await expectDeadLettersAre(s, workload);
    c.proc.kill("SIGTERM");
    expect(await c.exited).toBe(0);
  });

  test("PostgreSQL unavailable for a while mid-run: the worker waits, recovers and the result is exact", async () => {
    const database = `ferry_outage_${randomUUID().slice(0, 8)}`;
    await sql.unsafe(`create database ${database}`);
    const url = `${testServices().databaseUrl.replace(/\/[^/]*$/, "")}/${database}`;
    const outageSql = postgres(url, { max: 2, onnotice: () => {} });
    try {
      const s = await createScenario("outage", { kafka: suite.kafka(), sql: outageSql }, { partitions: 3 });
      suite.track(s);
      const N = 6_000;
      await suite.kafka().send(numberedEvents(s.topic, N));
      const worker = s.start({ FERRY_DATABASE_URL: url, FERRY_BATCH_SIZE: "100" });
      await waitFor("effects before the outage", async () => (await s.count()).rows > 500, { timeoutMs: 90_000, intervalMs: 20 });
      await outageSql.end();
      await sql.unsafe(`alter database ${database} allow_connections false`);
      await sql.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database}' and pid <> pg_backend_pid()`);
      await worker.waitForLog("partition:waiting", 30_000);
      await Bun.sleep(4_000);
      await sql.unsafe(`alter database ${database} allow_connections true`);
      const after = postgres(url, { max: 2, onnotice: () => {} });
      const rows = async () => (await after<{ n: number }[]>`select count(*)::int as n from ${after(s.table)}`)[0]!.n;
      await waitFor("all effects after the outage", async () => (await rows()) === N, { timeoutMs: 120_000, intervalMs: 250 });
      await s.waitForCommitted(N);
      const [distinct] = await after<{ n: number }[]>`select count(distinct event_id)::int as n from ${after(s.table)}`;
      expect(distinct!.n).toBe(N);
      expect(worker.logs.some((l) => l.msg === "event:dead-lettering")).toBe(false);
      await after.end();
    } finally {
      await sql.unsafe(`alter database ${database} allow_connections true`).catch(() => undefined);
      await sql.unsafe(`drop database if exists ${database} with (force)`).catch(() => undefined);
    }
  });
});

describe("commit order", () => {
  test("after a crash between the database and the Kafka commit, the worker resumes from PostgreSQL and replays nothing", async () => {
    const s = await scenario("resume", { partitions: 2 });
    const N = 400;
    await suite.kafka().send(numberedEvents(s.topic, N));
    const first = s.start();
    await s.waitForCommitted(N);
    first.proc.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    // Rewind the group's Kafka offsets, as if the Kafka commits had been lost in a crash.
    const rewound = Bun.spawnSync([
      ...process.env.FERRY_TEST_KAFKA_TOOL!.split(" "),
      "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
      "--bootstrap-server",
      testServices().brokers.split(",")[0]!,
      "--group",
      s.groupId,
      "--topic",
      s.topic,
      "--reset-offsets",
      "--to-earliest",
      "--execute",
    ]);
    expect(rewound.exitCode).toBe(0);
    expect(await s.committedInKafka()).toBe(0);
    const second: FerryProcess = s.start({ FERRY_LOG_LEVEL: "debug" });
    await second.waitForLog("partitions:assigned");
    await suite.kafka().send(numberedEvents(s.topic, 10, { prefix: `${s.topic}-late` }));
    await s.waitForCommitted(N + 10);
    expect((await s.count()).rows).toBe(N + 10);
    // Nothing before the PostgreSQL offsets was handed to the unit of work again.
    const [inbox] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where topic = ${s.topic}`;
    expect(inbox!.n).toBe(N + 10);
    const batches = second.logs.filter((l) => l.msg === "batch:applied");
    const total = (field: string) => batches.reduce((sum, l) => sum + Number(l[field] ?? 0), 0);
    // The assignment started at PostgreSQL's offsets: no old record was even fetched again.
    expect(total("records")).toBe(10);
    expect(total("skipped")).toBe(0);
    expect(total("technicalDuplicates")).toBe(0);
    expect(total("applied")).toBe(10);
    second.proc.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });
});
