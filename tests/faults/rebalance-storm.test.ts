/**
 * Rebalance storm: workers keep joining and leaving the group (most leave with SIGTERM, some are
 * SIGKILLed) while events keep arriving, so partitions move again and again, sometimes while a
 * batch is still being applied by the worker losing them. The checker requires the exact result.
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

const rounds = long ? 40 : 10;

test(`${rounds} rounds of workers joining and leaving under a steady stream: the effects are exact`, async () => {
  const random = seededRandom(seed);
  const s = await faultScenario("storm", { kafka, sql }, { partitions: 8 });
  const producer = await kafka.ackProducer();
  const alive: FerryProcess[] = [];
  const counts = { joined: 0, leftGracefully: 0, killed: 0 };
  try {
    let chunk = 0;
    const produce = (count: number) => producer.send(faultWorkload(s.topic, count, { seed: seed + chunk, prefix: `${s.topic}-c${chunk++}` }));
    await produce(2_000);
    const join = () => {
      alive.push(s.start());
      counts.joined++;
    };
    join();
    await alive[0]!.waitForLog("partitions:assigned", 90_000);
    const started = Date.now();
    for (let round = 0; round < rounds; round++) {
      await Promise.all([produce(300), Bun.sleep(800 + random() * 1_500)]);
      // Between one and four workers: join when alone, leave when four, otherwise either.
      if (alive.length === 1 || (alive.length < 4 && random() < 0.5)) {
        join();
        continue;
      }
      const leaving = alive.splice(Math.floor(random() * alive.length), 1)[0]!;
      // Every third leave is a SIGKILL: its partitions move only when its session times out.
      if ((counts.leftGracefully + counts.killed) % 3 !== 2) {
        // The storm is about leaving a group, so stop only a worker that is running. (One stopped
        // during start-up aborts it and exits 0 too: tests/e2e/start-abort.test.ts.)
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
    const assignments = s.workers.reduce((n, w) => n + w.logs.filter((l) => l.msg === "partitions:assigned").length, 0);
    const revocations = s.workers.reduce((n, w) => n + w.logs.filter((l) => l.msg === "partitions:revoked").length, 0);
    reportCounts("rebalance-storm", { rounds, ...counts, assignments, revocations, elapsedMs, produce: produceSummary(producer.produced), ...report });
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
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
    let chunk = 0;
    const produce = (count: number) => producer.send(faultWorkload(s.topic, count, { seed: seed + chunk, prefix: `${s.topic}-c${chunk++}` }));
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
    await waitFor("the group caught up", () => s.caughtUp(), { timeoutMs: 180_000, intervalMs: 250 });
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
