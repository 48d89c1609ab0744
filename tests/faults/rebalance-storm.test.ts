/**
 * Rebalance storm: workers keep joining and leaving the group (most leave with SIGTERM, some are
 * SIGKILLed) while events keep arriving, so partitions move again and again, sometimes while a
 * batch is still being applied by the worker losing them. The checker requires the exact result,
 * and the workers' logs a minimum of real moves (partitions revoked, and given to joiners).
 */
import { afterAll, expect, test } from "bun:test";
import { seededRandom } from "../support/events.ts";
import { testSql } from "../support/db.ts";
import { testServices } from "../support/env.ts";
import { waitFor } from "../support/wait.ts";
import { faultKafka, produceSummary } from "./support/kafka.ts";
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

const rounds = long ? 40 : 6;

test(`${rounds} rounds of workers joining and leaving under a steady stream: partitions move, the effects are exact`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("storm", { kafka, sql }, { partitions: 8 });
  const producer = await kafka.ackProducer();
  try {
    const workload = workloadChunks(s.topic, seed);
    const produce = (count: number) => producer.send(workload.next(count));
    const { alive, ...storm } = await runStorm(s, { random, rounds, produce });
    await s.waitCaughtUp("the group caught up", 180_000);
    const report = await s.check(producer.produced);
    const moves = partitionMoves(s.workers);
    reportCounts("rebalance-storm", { rounds, ...storm, ...moves, produce: produceSummary(producer.produced), ...report });
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

test("a worker frozen (SIGSTOP) past its session timeout while another takes its partitions, then thawed: the effects are exact", async () => {
  const s = await faultScenario("zombie", { kafka, sql }, { partitions: 4 });
  const producer = await kafka.ackProducer();
  try {
    const workload = workloadChunks(s.topic, seed);
    const produce = (count: number) => producer.send(workload.next(count));
    const frozen = s.start();
    await frozen.waitForLog("partitions:assigned", 90_000);
    const other = s.start();
    await other.waitForLog("partitions:assigned", 90_000);
    await produce(3_000);
    await waitFor("both workers applying", async () => (await s.count()) > 300, { timeoutMs: 60_000, intervalMs: 50 });
    // Frozen mid-batch: the group gives its partitions to the other worker after the 10 s session
    // timeout; thawed, it finishes what it held (a zombie) before it learns it lost them.
    frozen.proc.kill("SIGSTOP");
    const appliedAtFreeze = await s.count();
    await produce(1_000);
    await Bun.sleep(long ? 30_000 : 14_000);
    frozen.proc.kill("SIGCONT");
    await produce(1_000);
    await s.waitCaughtUp("the group caught up", 180_000);
    const report = await s.check(producer.produced);
    reportCounts("zombie-worker", {
      appliedAtFreeze,
      frozenRevocations: frozen.logs.filter((l) => l.msg === "partitions:revoked").length,
      otherAssignments: other.logs.filter((l) => l.msg === "partitions:assigned").length,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
    expect(frozen.proc.exitCode).toBeNull();
    expect(other.proc.exitCode).toBeNull();
  } finally {
    await producer.close();
    await s.cleanup();
  }
});
