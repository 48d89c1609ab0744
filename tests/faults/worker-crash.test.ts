/**
 * Worker crashes: the worker is SIGKILLed again and again, at the exact points of the commit
 * protocol (FERRY_FAULT_INJECT: inside a handler's transaction, while a dead letter is in flight,
 * after it was acknowledged, between the PostgreSQL and the Kafka commit) and at random moments
 * from outside. Two workers share the group, so a dead one's partitions move while it restarts.
 * The checker then demands the exact effect set.
 */
import { afterAll, expect, test } from "bun:test";
import { seededRandom } from "../support/events.ts";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
import { runKillLoop } from "./support/kill-loop.ts";
import { long, reportCounts, seed } from "./support/report.ts";
import { faultScenario } from "./support/scenario.ts";
import { workloadChunks } from "./support/workload.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

const kills = long ? 60 : 6;

test(`SIGKILLed ${kills} times at random points of the commit protocol, the effects are exact`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("crash", { kafka, sql }, { partitions: 6 });
  const producer = await kafka.ackProducer();
  try {
    // More events whenever the workers catch up before the last kill: the faults need work to hit.
    const workload = workloadChunks(s.topic, seed, { technicalRate: 0.05, functionalRate: 0.03, permanentRate: 0.02 });
    const produce = (count: number) => producer.send(workload.next(count));
    await produce(long ? 20_000 : 4_000);

    const { killed, killedFromOutside, elapsedMs } = await runKillLoop(s, {
      random,
      kills,
      outsideRate: 0.2,
      produceMore: () => produce(1_000),
      timeoutMs: long ? 900_000 : 240_000,
    });
    const report = await s.check(producer.produced);
    reportCounts("worker-crash", {
      events: workload.events,
      records: producer.produced.length,
      kills: killed,
      fired: s.faultsFired(),
      killedFromOutside,
      workers: s.workers.length,
      elapsedMs,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0, unacknowledged: 0 });
    expect(killed).toBeGreaterThanOrEqual(kills);
  } finally {
    await producer.close();
    await s.cleanup();
  }
});
