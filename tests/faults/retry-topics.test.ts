/**
 * Retry topics under SIGKILLs: the effects handler with `retry: { mode: "topics", delays: ["1s",
 * "2s"] }`, events whose first one, two or three attempts fail (steered by `ctx.attempt`), killed
 * again and again at the points of the commit protocol (inside the handler's transaction, while a
 * retry record is in flight, after it was acknowledged and before the offset past it committed,
 * around dead letters, between the PostgreSQL and the Kafka commit) and from outside. Two workers
 * share the group, which consumes the source topic and both retry topics. The checker then demands:
 * every eventually-successful event applied exactly once, on the attempt its payload says; the rest
 * dead-lettered with their reason; and no attempt run before its due time.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { seededRandom } from "../support/events.ts";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
import { runKillLoop } from "./support/kill-loop.ts";
import { long, reportCounts, seed } from "./support/report.ts";
import { faultScenario } from "./support/scenario.ts";
import { retryWorkload } from "./support/workload.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

const kills = long ? 40 : 4;
const delays = ["1s", "2s"];
const stages = delays.length;

test(`retry topics SIGKILLed ${kills} times: eventually-successful events applied once, on time; the rest dead-lettered`, async () => {
  const random = seededRandom(seed);
  // Each successful attempt's due time and when it ran, written in the handler's transaction.
  const dueTable = `faults_retry_due_${randomUUID().slice(0, 8)}`;
  await sql.unsafe(`create table ${dueTable} (event_id text not null, attempt int not null, due_at bigint, applied_at_ms bigint not null)`);
  const s = await faultScenario(
    "retry",
    { kafka, sql },
    {
      partitions: 4,
      retry: `{ mode: "topics", delays: ${JSON.stringify(delays)} }`,
      handlerExtra: `if (ctx.attempt <= (p.failUntil ?? 0)) throw new Error(\`event \${p.n} fails on attempt \${ctx.attempt}\`);
    await ctx.sql\`insert into ${dueTable} (event_id, attempt, due_at, applied_at_ms) values (\${ctx.event.id}, \${ctx.attempt},
      \${ctx.event.headers["ferry-retry-due-at"] ?? null}, (extract(epoch from clock_timestamp()) * 1000)::bigint)\`;`,
    },
  );
  const retryTopics = Array.from({ length: stages }, (_, i) => `${s.topic}.record-effect.retry.${i + 1}`);
  // Done when the source and then each stage in turn are read to their ends: a stage only grows from the one before it.
  const caughtUp = async () => {
    if (!(await s.caughtUp())) return false;
    for (const topic of retryTopics) {
      const ends = await kafka.ends(topic);
      const rows = await sql<{ partition: number; next_offset: string }[]>`
        select partition, next_offset from ferry_offsets where group_id = ${s.groupId} and topic = ${topic}`;
      const next = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
      if (![...ends].every(([p, end]) => (next.get(p) ?? 0n) >= end)) return false;
    }
    return true;
  };
  const producer = await kafka.ackProducer();
  let chunk = 0;
  let events = 0;
  // How many attempts of each event fail, as its payload says.
  const failUntil = new Map<string, number>();
  const produce = (count: number) => {
    events += count;
    const options = { failRates: [0.15, 0.1, 0.04] as const, permanentRate: 0.02, technicalRate: 0.05 };
    const records = retryWorkload(s.topic, count, seed + chunk, `${s.topic}-c${chunk++}`, options);
    for (const r of records) failUntil.set(r.eventId!, (JSON.parse(String(r.value)) as { failUntil: number }).failUntil);
    return producer.send(records);
  };
  try {
    await produce(long ? 8_000 : 1_000);
    const { killed, killedFromOutside, elapsedMs } = await runKillLoop(
      { ...s, caughtUp },
      {
        random,
        kills,
        outsideRate: 0.2,
        points: [
          ["handler", 150],
          ["retry-sending", 20],
          ["retry-acked", 20],
          ["dead-letter-acked", 3],
          ["db-committed", 10],
        ],
        produceMore: () => produce(500),
        timeoutMs: long ? 900_000 : 180_000,
      },
    );
    const report = await s.check(producer.produced);
    // None before its due time.
    const dueRows = await sql<{ event_id: string; attempt: number; due_at: string | null; applied_at_ms: string }[]>`select * from ${sql(dueTable)}`;
    const early = dueRows.filter((r) => r.due_at !== null && Number(r.applied_at_ms) < Number(r.due_at));
    const retriedApplied = dueRows.filter((r) => r.attempt > 1).length;
    const letters = await kafka.readAll(`${s.topic}.dlt`);
    const exhaustedEarly: string[] = [];
    for (const l of letters) {
      if (l.headers["ferry-reason"]?.toString() !== "retry-topics-exhausted") continue;
      const history = JSON.parse(l.headers["ferry-retry-history"]?.toString() ?? "[]") as Array<{ attempt: number; dueAt?: number; failedAt: number }>;
      if (history.map((a) => a.attempt).join() !== "1,2,3") exhaustedEarly.push(`${l.headers["ferry-event-id"]}: attempts ${history.map((a) => a.attempt)}`);
      for (const a of history)
        if (a.dueAt !== undefined && a.failedAt < a.dueAt) exhaustedEarly.push(`${l.headers["ferry-event-id"]}: attempt ${a.attempt} early`);
    }
    reportCounts("retry-topics", {
      events,
      records: producer.produced.length,
      kills: killed,
      fired: s.faultsFired(),
      killedFromOutside,
      workers: s.workers.length,
      elapsedMs,
      retriedApplied,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(early).toEqual([]);
    expect(exhaustedEarly).toEqual([]);
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0, unacknowledged: 0 });
    expect(report.deadLettered["retry-topics-exhausted"]).toBeGreaterThan(0);
    expect(retriedApplied).toBeGreaterThan(0);
    // Each applied event ran on the attempt its payload asked for: attempts count right across crashes and hops.
    const appliedRows = await sql<{ event_id: string; attempt: number }[]>`select event_id, attempt from ${sql(s.table)}`;
    expect(appliedRows.filter((r) => r.attempt !== failUntil.get(r.event_id)! + 1).slice(0, 5)).toEqual([]);
    expect(killed).toBeGreaterThanOrEqual(kills);
  } finally {
    await producer.close();
    await s.cleanup();
    await sql.unsafe(`drop table if exists ${dueTable}`);
    await kafka.deleteTopics([s.topic, `${s.topic}.dlt`, ...retryTopics]).catch(() => undefined);
  }
});
