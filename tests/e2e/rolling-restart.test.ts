import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { groupMembers } from "../support/kafka.ts";
import type { createScenario } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;
type Scenario = Awaited<ReturnType<typeof createScenario>>;

/** Sends one event every 20 ms until stopped, so a gap in applying shows as a gap in `applied_at`. */
function steadyStream(s: Scenario) {
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const n = sent;
      await suite
        .kafka()
        .send([{ topic: s.topic, key: `k${n % 9}`, value: JSON.stringify({ n, key: `b${n}`, seq: n }), headers: { "event-id": `${s.topic}-${n}` } }]);
      sent++;
      await Bun.sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return sent;
    },
  };
}

/** Stops the worker with `signal`, starts it again and returns how long until an event was applied again. */
async function restart(s: Scenario, worker: ReturnType<Scenario["start"]>, signal: "SIGTERM" | "SIGKILL", env: Record<string, string>) {
  worker.proc.kill(signal);
  await worker.exited;
  const stoppedAt = new Date();
  const next = s.start(env);
  const [first] = await waitFor(
    "an event applied after the restart",
    async () => {
      const rows = await sql<{ applied_at: Date }[]>`select applied_at from ${sql(s.table)} where applied_at > ${stoppedAt} order by applied_at limit 1`;
      return rows.length > 0 ? rows : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
  return { next, resumedMs: first!.applied_at.getTime() - stoppedAt.getTime() };
}

test("a static member restarted by SIGTERM or SIGKILL applies again within seconds, every event once", async () => {
  const s = await suite.scenario("static-restart", { partitions: 3 });
  const env = { FERRY_KAFKA_GROUP_INSTANCE_ID: "worker-0" };
  const stream = steadyStream(s);
  let worker = s.start(env);
  await worker.waitForLog("partitions:assigned");
  await s.waitForEffects(20);

  const term = await restart(s, worker, "SIGTERM", env);
  worker = term.next;
  // A clean stop of a static member sends no LeaveGroup: the group kept it while it was away.
  await s.waitForEffects((await s.count()).rows + 20);
  const kill = await restart(s, worker, "SIGKILL", env);
  worker = kill.next;
  console.log(`static membership: resumed ${term.resumedMs} ms after SIGTERM, ${kill.resumedMs} ms after SIGKILL`);
  // Without static membership a SIGKILLed member's partitions wait for its session to end (10 s).
  expect(term.resumedMs).toBeLessThan(5_000);
  expect(kill.resumedMs).toBeLessThan(5_000);
  expect(worker.logs.some((l) => l.msg === "partitions:assigned" && (l.partitions as string[]).length === 3)).toBe(true);

  const sent = await stream.stop();
  await s.waitForCommitted(sent);
  expect(await s.count()).toEqual({ rows: sent, ids: sent });
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  // Stopped without leaving: the member stays in the group until its session times out.
  expect((await groupMembers([s.groupId])).get(s.groupId)).toBe(1);
});

test("FERRY_KAFKA_SESSION_TIMEOUT_MS reaches the group: a SIGKILLed dynamic member's partitions move after it", async () => {
  const s = await suite.scenario("session-timeout", { partitions: 2 });
  const env = { FERRY_KAFKA_SESSION_TIMEOUT_MS: "3000", FERRY_KAFKA_HEARTBEAT_INTERVAL_MS: "500" };
  const stream = steadyStream(s);
  const worker = s.start(env);
  await worker.waitForLog("partitions:assigned");
  await s.waitForEffects(10);
  const { next, resumedMs } = await restart(s, worker, "SIGKILL", env);
  console.log(`dynamic membership, 3 s session: resumed ${resumedMs} ms after SIGKILL`);
  // The new member waits for the old one's session to end: about 3 s, not the default 10 s.
  expect(resumedMs).toBeGreaterThan(2_000);
  expect(resumedMs).toBeLessThan(8_000);
  const sent = await stream.stop();
  await s.waitForCommitted(sent);
  expect(await s.count()).toEqual({ rows: sent, ids: sent });
  next.proc.kill("SIGTERM");
  expect(await next.exited).toBe(0);
});

test("a static member's handler swapped by hot-add keeps applying; a second worker with the same instance id fences the first, which says so", async () => {
  const s = await suite.scenario("static-swap", { partitions: 2 });
  const env = { FERRY_KAFKA_GROUP_INSTANCE_ID: "twin" };
  const stream = steadyStream(s);
  const first = s.start(env);
  await first.waitForLog("partitions:assigned");
  await s.waitForEffects(10);
  // A new version of the handler joins under the same id and takes the partitions back at once.
  const file = path.join(s.handlersDir, "record-effect.ts");
  writeFileSync(file, `${readFileSync(file, "utf8")}\n// version 2\n`);
  await first.waitForLog("handler:replaced");
  await s.waitForEffects((await s.count()).rows + 20);

  const second = s.start(env);
  const fenced = await waitFor("a worker saying it was fenced", () => [...first.logs, ...second.logs].find((l) => l.msg === "consumer:run-failed"), {
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  expect(JSON.stringify(fenced.error)).toContain("another worker joined with the same FERRY_KAFKA_GROUP_INSTANCE_ID=twin");
  const sent = await stream.stop();
  // Whoever kept the id applies everything, once.
  await s.waitForCommitted(sent);
  expect(await s.count()).toEqual({ rows: sent, ids: sent });
});
