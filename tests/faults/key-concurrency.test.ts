/**
 * Key-level concurrency under SIGKILLs: a handler with `concurrency: { perPartition: 16, order:
 * "key" }` whose events finish out of order (each waits 0-3 ms inside its transaction), killed
 * again and again at the points of the commit protocol and from outside, two workers sharing the
 * group. Every kill leaves events done past the stored prefix; they come again and the inbox must
 * skip them. The checker demands the exact effect set, and each key's events applied strictly
 * in sequence (a key's sequence numbers: the offsets its records were acknowledged at). The same
 * through a rebalance storm: workers joining, leaving with SIGTERM (a revocation lets the running
 * events commit and stores the prefix) and now and then SIGKILLed.
 */
import { afterAll, expect, test } from "bun:test";
import { seededRandom } from "../support/events.ts";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { keyOrderViolations } from "./support/checker.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
import { runKillLoop } from "./support/kill-loop.ts";
import { long, reportCounts, seed } from "./support/report.ts";
import { faultScenario } from "./support/scenario.ts";
import { minimumMoves, partitionMoves, runStorm } from "./support/storm.ts";
import { workloadChunks } from "./support/workload.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

const kills = long ? 40 : 5;
const rounds = long ? 40 : 5;

/** The handler under test: 16 events per partition side by side, one key in offset order, finishing out of order on purpose. */
const keyed = {
  handlerOptions: 'concurrency: { perPartition: 16, order: "key" },',
  // Later events of other keys finish before earlier ones.
  handlerExtra: "await new Promise((resolve) => setTimeout(resolve, p.n % 4));",
};
/** Few keys (about 6 per partition): one key's events sit close enough to race if the order were not kept (with order "none" the SIGKILL test finds ~90 out of order). */
const keys = 24;

test(`key-level concurrency SIGKILLed ${kills} times: every event applied once, each key in order`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("keyed", { kafka, sql }, { partitions: 4, ...keyed });
  const producer = await kafka.ackProducer();
  try {
    const workload = workloadChunks(s.topic, seed, { keys, technicalRate: 0.05, functionalRate: 0.03, permanentRate: 0.02 });
    const produce = (count: number) => producer.send(workload.next(count));
    await produce(long ? 12_000 : 3_000);

    const { killed, killedFromOutside, elapsedMs } = await runKillLoop(s, {
      random,
      kills,
      outsideRate: 0.25,
      produceMore: () => produce(1_000),
      timeoutMs: long ? 900_000 : 180_000,
    });
    const report = await s.check(producer.produced);
    const outOfOrder = keyOrderViolations(await s.appliedInOrder(producer.produced));
    reportCounts("key-concurrency", {
      events: workload.events,
      records: producer.produced.length,
      kills: killed,
      fired: s.faultsFired(),
      killedFromOutside,
      workers: s.workers.length,
      elapsedMs,
      outOfOrder: outOfOrder.length,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(outOfOrder.slice(0, 5)).toEqual([]);
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0, unacknowledged: 0 });
    expect(killed).toBeGreaterThanOrEqual(kills);
  } finally {
    await producer.close();
    await s.cleanup();
  }
});

test(`key-level concurrency through ${rounds} rounds of workers joining and leaving: every event applied once, each key in order`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("keyed-storm", { kafka, sql }, { partitions: 8, ...keyed });
  const producer = await kafka.ackProducer();
  try {
    const workload = workloadChunks(s.topic, seed, { keys });
    const produce = (count: number) => producer.send(workload.next(count));
    // SIGTERM: a revocation that lets running events commit and stores the prefix.
    const { alive, ...storm } = await runStorm(s, { random, rounds, produce });
    await s.waitCaughtUp("the group caught up", 180_000);
    const report = await s.check(producer.produced);
    const outOfOrder = keyOrderViolations(await s.appliedInOrder(producer.produced));
    const moves = partitionMoves(s.workers);
    reportCounts("key-concurrency-storm", {
      rounds,
      ...storm,
      ...moves,
      outOfOrder: outOfOrder.length,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(outOfOrder.slice(0, 5)).toEqual([]);
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
    expect(moves.rebalanceRevocations).toBeGreaterThanOrEqual(minimumMoves(rounds).rebalanceRevocations);
    expect(moves.assignmentsToJoiners).toBeGreaterThanOrEqual(minimumMoves(rounds).assignmentsToJoiners);
    for (const w of alive) expect(w.proc.exitCode).toBeNull();
  } finally {
    await producer.close();
    await s.cleanup();
  }
});
