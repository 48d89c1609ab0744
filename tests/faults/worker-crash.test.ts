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
import type { FerryProcess } from "../support/ferry-process.ts";
import { waitFor } from "../support/wait.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
import { long, reportCounts, seed } from "./support/report.ts";
import { faultScenario } from "./support/scenario.ts";
import { faultWorkload } from "./support/workload.ts";

const kafka = faultKafka(testServices().brokers);
const sql = testSql();
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

// Where to die, and how many hits of the point to let pass first (ranges suit batches of 100).
const points: Array<[point: string, maxHit: number]> = [
  ["handler", 400],
  ["dead-letter-sending", 4],
  ["dead-letter-acked", 4],
  ["db-committed", 10],
];

const kills = long ? 60 : 10;

test(`SIGKILLed ${kills} times at random points of the commit protocol, the effects are exact`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("crash", { kafka, sql }, { partitions: 6 });
  const producer = await kafka.ackProducer();
  try {
    // More events whenever the workers catch up before the last kill: the faults need work to hit.
    let events = 0;
    let chunks = 0;
    const produce = async (count: number) => {
      await producer.send(
        faultWorkload(s.topic, count, {
          seed: seed + chunks,
          prefix: `${s.topic}-c${chunks++}`,
          technicalRate: 0.05,
          functionalRate: 0.03,
          permanentRate: 0.02,
        }),
      );
      events += count;
    };
    await produce(long ? 20_000 : 4_000);

    let killed = 0;
    let outside = 0;
    let armed = 0;
    // One life of a worker: armed with one fault, or killed from outside after a random delay.
    const life = (): FerryProcess => {
      if (killed >= kills) return s.start();
      if (random() < 0.2) {
        const worker = s.start();
        const delay = 1_000 + random() * 3_000;
        setTimeout(() => {
          if (worker.proc.exitCode === null && worker.proc.signalCode === null) {
            outside++;
            worker.proc.kill("SIGKILL");
          }
        }, delay);
        return worker;
      }
      // Every point in turn, so each is hit in every run; when, within its range, is random.
      const [point, maxHit] = points[armed++ % points.length]!;
      return s.start({ FERRY_FAULT_INJECT: `${point}@${1 + Math.floor(random() * maxHit)}` });
    };
    const running = [life(), life()];
    const started = Date.now();
    await waitFor(
      "every record committed, with the kills done",
      async () => {
        for (let i = 0; i < running.length; i++) {
          const w = running[i]!;
          if (w.proc.exitCode === null && w.proc.signalCode === null) continue;
          if (w.proc.signalCode === "SIGKILL") killed++;
          else throw new Error(`a worker exited by itself (code ${w.proc.exitCode}):\n${w.output().slice(-2_000)}`);
          running[i] = life();
        }
        if (!(await s.caughtUp())) return false;
        if (killed >= kills) return true;
        await produce(1_000);
        return false;
      },
      { timeoutMs: long ? 900_000 : 240_000, intervalMs: 200 },
    );
    const elapsedMs = Date.now() - started;
    const report = await s.check(producer.produced);
    reportCounts("worker-crash", {
      events,
      records: producer.produced.length,
      kills: killed,
      fired: s.faultsFired(),
      killedFromOutside: outside,
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
