import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { testSql } from "../support/db.ts";
import { runFerry } from "../support/ferry-process.ts";
import { effectsHandler } from "../support/handlers.ts";
import { testKafka } from "../support/kafka.ts";
import { createScenario } from "../support/scenario.ts";

const sql = testSql();
let kafka: Awaited<ReturnType<typeof testKafka>>;
beforeAll(async () => {
  kafka = await testKafka();
});
afterAll(async () => {
  await kafka.close();
  await sql.end();
});

test("ferry dlt list shows dead letters; replay after a fix applies them once, dry run first", async () => {
  const s = await createScenario("dlt-replay", { kafka, sql }, { partitions: 2 });
  try {
    const ids = [0, 1, 2].map((i) => `${s.topic}-${i}`);
    await kafka.send(
      ids.map((id, n) => ({
        topic: s.topic,
        key: `k${n}`,
        value: JSON.stringify({ n, key: `b-${id}`, seq: 1, fail: n === 0 ? undefined : "permanent" }),
        headers: { "event-id": id },
      })),
    );
    const worker = s.start();
    await s.waitForCommitted(3);
    worker.proc.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect((await s.effects()).map((e) => e.event_id)).toEqual([ids[0]!]);

    const list = await runFerry(["dlt", "list", "--handlers", s.handlersDir, "--json"]);
    expect(list.code).toBe(0);
    const letters = JSON.parse(list.output) as Array<{ eventId: string; reason: string; errorMessage: string }>;
    expect(letters.map((l) => l.eventId).sort()).toEqual([ids[1]!, ids[2]!]);
    expect(letters.every((l) => l.reason === "permanent")).toBe(true);

    // The fix: the handler no longer refuses these events.
    writeFileSync(path.join(s.handlersDir, "record-effect.ts"), effectsHandler({ topic: s.topic, table: s.table, extra: "delete (p as any).fail;" }));

    const dry = await runFerry(["dlt", "replay", "--handlers", s.handlersDir, "--all", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.output).toContain("dry run (rolled back): 2 would-apply");
    expect(await s.effects()).toHaveLength(1);

    const one = await runFerry(["dlt", "replay", "--handlers", s.handlersDir, "--event-id", ids[1]!]);
    expect(one.code).toBe(0);
    expect(one.output).toContain(`[1/1] ${ids[1]}  applied`);
    const all = await runFerry(["dlt", "replay", "--handlers", s.handlersDir, "--all", "--json"]);
    expect(all.code).toBe(0);
    const outcomes = Object.fromEntries((JSON.parse(all.output).results as Array<{ eventId: string; outcome: string }>).map((r) => [r.eventId, r.outcome]));
    expect(outcomes).toEqual({ [ids[1]!]: "already-applied", [ids[2]!]: "applied" });
    const effects = await s.effects();
    expect(effects.map((e) => e.event_id).sort()).toEqual([...ids].sort());

    const refused = await runFerry(["dlt", "replay", "--handlers", s.handlersDir]);
    expect(refused.code).toBe(2);
    expect(refused.output).toContain("--event-id <id,...> or --all");
  } finally {
    s.cleanup();
  }
});
