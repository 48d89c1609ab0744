import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { numberedEvents } from "../support/events.ts";
import { effectsHandler } from "../support/handlers.ts";
import { createScenario } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";

const suite = useScenarios();
const { sql } = suite;

/** A scenario whose handler takes `delayMs` per event, so a batch is in flight when the signal comes. */
async function slowScenario(name: string, delayMs: number) {
  const s = await createScenario(name, { kafka: suite.kafka(), sql }, { partitions: 1 });
  suite.track(s);
  writeFileSync(
    path.join(s.handlersDir, "record-effect.ts"),
    effectsHandler({ topic: s.topic, table: s.table, extra: `await new Promise((r) => setTimeout(r, ${delayMs}));` }),
  );
  return s;
}

test("SIGTERM lets the in-flight batch finish and commit, leaves the group and exits 0", async () => {
  const s = await slowScenario("drain", 150);
  await suite.kafka().send(numberedEvents(s.topic, 20));
  const worker = s.start();
  await worker.waitForLog("partitions:assigned");
  await Bun.sleep(800);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(worker.logs.find((l) => l.msg === "engine:stopped")).toMatchObject({ drained: true });
  // The whole batch was in flight: it finished and both commits happened.
  expect((await s.count()).rows).toBe(20);
  expect(await s.committedInKafka()).toBe(20);
});

test("a second signal exits at once without committing the in-flight batch; a restart applies it once", async () => {
  // Three events of a second each: the first is in flight at the signals, and the restart (which
  // first waits out the killed member's session) applies them in seconds, not ten.
  const s = await slowScenario("second-signal", 1_000);
  await suite.kafka().send(numberedEvents(s.topic, 3));
  const worker = s.start({ FERRY_SHUTDOWN_TIMEOUT_MS: "60000" });
  await worker.waitForLog("partitions:assigned");
  await Bun.sleep(800);
  worker.proc.kill("SIGTERM");
  await worker.waitForLog("engine:draining");
  const t0 = Date.now();
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(130);
  expect(Date.now() - t0).toBeLessThan(3_000);
  expect((await s.count()).rows).toBe(0);
  const again = s.start();
  await s.waitForCommitted(3);
  expect(await s.count()).toEqual({ rows: 3, ids: 3 });
  again.proc.kill("SIGTERM");
  expect(await again.exited).toBe(0);
});
