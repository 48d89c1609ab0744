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
import type { FerryProcess } from "../support/ferry-process.ts";
import { waitFor } from "../support/wait.ts";
import { keyOrderViolations } from "./support/checker.ts";
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

const points: Array<[point: string, maxHit: number]> = [
  ["handler", 400],
  ["dead-letter-sending", 4],
  ["dead-letter-acked", 4],
  ["db-committed", 10],
];

const kills = long ? 40 : 8;
const rounds = long ? 40 : 10;

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
    let events = 0;
    let chunks = 0;
    const produce = async (count: number) => {
      await producer.send(
        faultWorkload(s.topic, count, {
          seed: seed + chunks,
          prefix: `${s.topic}-c${chunks++}`,
          keys,
          technicalRate: 0.05,
          functionalRate: 0.03,
          permanentRate: 0.02,
        }),
      );
      events += count;
    };
    await produce(long ? 12_000 : 3_000);

    let killed = 0;
    let outside = 0;
    let armed = 0;
    const life = (): FerryProcess => {
      if (killed >= kills) return s.start();
      if (random() < 0.25) {
        const worker = s.start();
        setTimeout(
          () => {
            if (worker.proc.exitCode === null && worker.proc.signalCode === null) {
              outside++;
              worker.proc.kill("SIGKILL");
            }
          },
          1_000 + random() * 3_000,
        );
        return worker;
      }
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
      { timeoutMs: long ? 900_000 : 180_000, intervalMs: 200 },
    );
    const elapsedMs = Date.now() - started;
    const report = await s.check(producer.produced);
    const outOfOrder = keyOrderViolations(await s.appliedInOrder(producer.produced));
    reportCounts("key-concurrency", {
      events,
      records: producer.produced.length,
      kills: killed,
      fired: s.faultsFired(),
      killedFromOutside: outside,
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
  const alive: FerryProcess[] = [];
  const counts = { joined: 0, leftGracefully: 0, killed: 0 };
  try {
    let chunk = 0;
    const produce = (count: number) => producer.send(faultWorkload(s.topic, count, { seed: seed + chunk, prefix: `${s.topic}-c${chunk++}`, keys }));
    await produce(2_000);
    const join = () => {
      alive.push(s.start());
      counts.joined++;
    };
    join();
    await alive[0]!.waitForLog("partitions:assigned", 90_000);
    const started = Date.now();
    for (let round = 0; round < rounds; round++) {
      // Long enough for a cooperative rebalance to finish (two rounds), so partitions do move.
      await Promise.all([produce(300), Bun.sleep(3_000 + random() * 1_500)]);
      if (alive.length === 1 || (alive.length < 4 && random() < 0.5)) {
        join();
        continue;
      }
      const leaving = alive.splice(Math.floor(random() * alive.length), 1)[0]!;
      // Mostly SIGTERM (a revocation that lets running events commit), every third a SIGKILL.
      if ((counts.leftGracefully + counts.killed) % 3 !== 2) {
        await leaving.waitForLog("engine:running", 90_000);
        leaving.proc.kill("SIGTERM");
        const code = await leaving.exited;
        if (code !== 0) throw new Error(`a worker stopped by SIGTERM exited with ${code}:\n${leaving.output().slice(-3_000)}`);
        counts.leftGracefully++;
      } else {
        leaving.proc.kill("SIGKILL");
        await leaving.exited;
        counts.killed++;
      }
    }
    await waitFor("the group caught up", () => s.caughtUp(), { timeoutMs: 180_000, intervalMs: 250 });
    const elapsedMs = Date.now() - started;
    const report = await s.check(producer.produced);
    const outOfOrder = keyOrderViolations(await s.appliedInOrder(producer.produced));
    const revocations = s.workers.reduce((n, w) => n + w.logs.filter((l) => l.msg === "partitions:revoked").length, 0);
    // Partitions handed to a worker that already had records waiting: the moves the storm is about.
    const moves = s.workers.reduce(
      (n, w) => n + w.logs.filter((l) => l.msg === "partitions:assigned" && Array.isArray(l.partitions) && l.partitions.length > 0).length,
      0,
    );
    reportCounts("key-concurrency-storm", {
      rounds,
      ...counts,
      revocations,
      elapsedMs,
      outOfOrder: outOfOrder.length,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(outOfOrder.slice(0, 5)).toEqual([]);
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
    expect(moves).toBeGreaterThan(2);
    for (const w of alive) expect(w.proc.exitCode).toBeNull();
  } finally {
    await producer.close();
    await s.cleanup();
  }
});
