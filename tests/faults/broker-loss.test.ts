/**
 * Broker loss, on the fault suite's own 3-broker cluster (never the shared one): topics with
 * replication factor 3 and min.insync.replicas=2, producers acks=all.
 * - One broker SIGKILLed mid-run and brought back: every acknowledged event applied exactly once.
 * - Two brokers killed: producing fails loudly (NOT_ENOUGH_REPLICAS), nothing acknowledged is
 *   lost, and the worker carries on by itself once the brokers return.
 * - services/kafka.sh start on the running cluster restarts, alone, a broker started with an older
 *   configuration (CI reuses running services: a changed script must reach them).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { testSql } from "../support/db.ts";
import { seededRandom } from "../support/events.ts";
import { waitFor } from "../support/wait.ts";
import { claimInstance, faultsKafka } from "./support/instance.ts";
import { faultKafka, produceSummary, type FaultKafka } from "./support/kafka.ts";
import { long, reportCounts, seed } from "./support/report.ts";
import { faultScenario } from "./support/scenario.ts";
import { faultWorkload } from "./support/workload.ts";

const sql = testSql();
let kafka!: FaultKafka; // set in beforeAll, once this run holds the faults instance
let startMs = 0;

let release = () => {};
beforeAll(async () => {
  release = claimInstance();
  const started = await faultsKafka.start();
  startMs = started.ms;
  kafka = faultKafka(started.brokers);
}, 300_000);

afterAll(async () => {
  await sql.end();
  if (!kafka) return; // never started (another run holds the instance): nothing of ours to stop
  const memoryMb = faultsKafka.memory();
  await kafka.close();
  const stopped = await faultsKafka.stop();
  reportCounts("faults-kafka-instance", { startMs, stopMs: stopped.ms, memoryMb });
  release();
}, 120_000);

/** Produces chunks of the workload until stopped; every record's acknowledgement or error is kept. */
async function produceUntilStopped(producer: Awaited<ReturnType<FaultKafka["ackProducer"]>>, topic: string, chunk: number) {
  let stop = false;
  let n = 0;
  const running = (async () => {
    while (!stop) {
      await producer.send(faultWorkload(topic, chunk, { seed: seed + n, prefix: `${topic}-c${n++}`, permanentRate: 0.02 }));
      await Bun.sleep(100);
    }
  })();
  return {
    async stop() {
      stop = true;
      await running;
    },
  };
}

test("one of three brokers SIGKILLed mid-run and brought back: every acknowledged event applied exactly once", async () => {
  const s = await faultScenario("broker-1", { kafka, sql }, { partitions: 6 });
  const producer = await kafka.ackProducer({ messageTimeoutMs: 60_000 });
  try {
    const worker = s.start();
    await worker.waitForLog("partitions:assigned", 90_000);
    const traffic = await produceUntilStopped(producer, s.topic, long ? 500 : 150);
    await waitFor("effects before the kill", async () => (await s.count()) > 300, { timeoutMs: 60_000, intervalMs: 100 });
    const node = seededRandom(seed)() < 0.5 ? 2 : 3;
    const killedAt = Date.now();
    await faultsKafka.kill(node);
    await Bun.sleep(long ? 30_000 : 10_000); // past fencing (6 s): the ISRs shrink to two and writes go on
    const restored = await faultsKafka.restore();
    const downMs = Date.now() - killedAt;
    await Bun.sleep(long ? 10_000 : 3_000);
    await traffic.stop();
    await s.waitCaughtUp("the worker caught up", 120_000);
    const report = await s.check(producer.produced);
    reportCounts("broker-loss-1-of-3", { killedNode: node, downMs, restartMs: restored.ms, produce: produceSummary(producer.produced), ...report });
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
    expect(report.acknowledged).toBeGreaterThan(1_000);
    expect(worker.proc.exitCode).toBeNull();
  } finally {
    await producer.close();
    await s.cleanup();
  }
});

test("two of three brokers killed: producing fails with NOT_ENOUGH_REPLICAS, nothing acknowledged is lost, the worker recovers", async () => {
  const s = await faultScenario("broker-2", { kafka, sql }, { partitions: 6 });
  const producer = await kafka.ackProducer({ messageTimeoutMs: 15_000 });
  // No retries and no idempotence: the broker's answer reaches the test unchanged.
  const probe = await kafka.ackProducer({ messageTimeoutMs: 5_000, retries: 0 });
  try {
    const worker = s.start();
    await worker.waitForLog("partitions:assigned", 90_000);
    // The worker is mid-stream when the brokers go: dead letters and Kafka commits then fail under it.
    await producer.send(faultWorkload(s.topic, long ? 20_000 : 4_000, { seed, prefix: `${s.topic}-before`, permanentRate: 0.02 }));
    await waitFor("effects before the outage", async () => (await s.count()) > 300, { timeoutMs: 60_000, intervalMs: 100 });

    await faultsKafka.kill(2);
    await faultsKafka.kill(3);
    const killedAt = Date.now();
    const appliedAtKill = await s.count();
    // Loud: once the controller has fenced the dead brokers, a write is refused outright.
    let probes = 0;
    const refusal = await waitFor(
      "a write refused with NOT_ENOUGH_REPLICAS",
      async () => {
        await probe.send(faultWorkload(s.topic, 1, { prefix: `${s.topic}-probe${probes++}`, permanentRate: 0, technicalRate: 0, functionalRate: 0 }));
        const last = probe.produced[probe.produced.length - 1]!;
        if (last.ack) throw new Error("a write was acknowledged with two of three brokers down");
        if (!last.error?.includes("NOT_ENOUGH_REPLICAS")) throw new Error(`not refused yet: ${last.error}`);
        return last.error;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const refusedAfterMs = Date.now() - killedAt;
    // The application's own producer during the outage: nothing may be acknowledged.
    const during = faultWorkload(s.topic, 200, { seed: seed + 1, prefix: `${s.topic}-during`, permanentRate: 0.02 });
    const before = producer.produced.length;
    await producer.send(during);
    const outage = produceSummary(producer.produced.slice(before));
    await Bun.sleep(2_000);
    expect(worker.proc.exitCode).toBeNull();

    const appliedBeforeRestore = await s.count();
    const restored = await faultsKafka.restore();
    const downMs = Date.now() - killedAt;
    await producer.send(faultWorkload(s.topic, 1_000, { seed: seed + 2, prefix: `${s.topic}-after`, permanentRate: 0.02 }));
    await s.waitCaughtUp("the worker caught up after the brokers returned", 180_000);
    // A probe that timed out may still have been written (a leader appends before its followers
    // confirm): the checker counts such records as unacknowledged, allowed at most once.
    const report = await s.check([...producer.produced, ...probe.produced]);
    reportCounts("broker-loss-2-of-3", {
      appliedAtKill,
      appliedBeforeRestore,
      refusal,
      refusedAfterMs,
      probes: produceSummary(probe.produced),
      duringOutage: outage,
      downMs,
      restartMs: restored.ms,
      workerRestarts: worker.logs.filter((l) => l.msg === "engine:running").length - 1,
      kafkaCommitFailures: worker.logs.filter((l) => l.msg === "offsets:kafka-commit-failed").length,
      batchesWaitingForInfrastructure: worker.logs.filter((l) => l.msg === "partition:waiting").length,
      produce: produceSummary(producer.produced),
      ...report,
    });
    expect(refusal).toContain("NOT_ENOUGH_REPLICAS");
    expect(outage.acknowledged).toBe(0);
    expect(report.deadLetterWrong).toEqual([]);
    expect(report).toMatchObject({ ok: true, duplicates: 0, missing: 0, unexpected: 0 });
    expect(worker.proc.exitCode).toBeNull();
  } finally {
    await probe.close();
    await producer.close();
    await s.cleanup();
  }
});

test("kafka.sh start leaves unchanged brokers alone and restarts, alone, one started with an older configuration", async () => {
  const noop = await faultsKafka.restore();
  expect(noop.err).toContain("kafka: nodes 1 2 3 already running");
  const before = faultsKafka.pids();
  // Node 2 as if started before the SSL listener was added to the script.
  const { written, started } = faultsKafka.configs(2);
  expect(readFileSync(started, "utf8")).toBe(readFileSync(written, "utf8"));
  const older = readFileSync(started, "utf8").replace(/,SSL:\/\/127\.0\.0\.1:\d+/g, "");
  writeFileSync(started, older);
  const restart = await faultsKafka.restore();
  expect(restart.err).toContain("kafka: node 2 runs with an older configuration; restarting it:");
  expect(restart.err).toMatch(/\+ listeners=.*,SSL:\/\/127\.0\.0\.1:\d+/);
  expect(restart.err).toContain("kafka: every partition in sync again");
  const after = faultsKafka.pids();
  expect([after[0] === before[0], after[1] === before[1], after[2] === before[2]]).toEqual([true, false, true]);
  expect(readFileSync(started, "utf8")).toBe(readFileSync(written, "utf8"));
  // Node 3 as if started by a script that kept no record: its listeners all answer, so it stays up.
  rmSync(faultsKafka.configs(3).started);
  const adopted = await faultsKafka.restore();
  expect(adopted.err).toContain("kafka: node 3 was started before its configuration was recorded; all its listeners answer, so it is taken as current");
  expect(faultsKafka.pids()).toEqual(after);
  expect(existsSync(faultsKafka.configs(3).started)).toBe(true);
  reportCounts("kafka-config-restart", { noopStartMs: noop.ms, restartOneNodeMs: restart.ms, adoptMs: adopted.ms });
}, 300_000);
