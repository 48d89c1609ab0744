import { expect, test } from "bun:test";
import { createEngineEvents } from "../engine-events.ts";
import { createLogger } from "../log/logger.ts";
import { logProgress, type OwnedLag } from "./progress-log.ts";

test("one line per handler that did something or has lag, counted since the last line", async () => {
  const events = createEngineEvents();
  const lines: Array<Record<string, unknown>> = [];
  let clock = 1_000;
  let owned: OwnedLag[] = [{ handler: "totals", partitions: 2, lag: 40 }];
  const progress = logProgress(events, {
    intervalMs: 60_000,
    log: createLogger({ level: "info", sink: (l) => lines.push(JSON.parse(l)) }),
    ownedLag: async () => owned,
    now: () => clock,
  });
  const where = { topic: "orders", partition: 0 };
  events.emit("batch:applied", {
    handler: "totals",
    ...where,
    records: 12,
    skipped: 2,
    applied: 8,
    technicalDuplicates: 1,
    functionalDuplicates: 1,
    deadLettered: 0,
    durationMs: 5,
  });
  events.emit("event:dead-lettered", { handler: "totals", ...where, reason: "functional-duplicate" });
  events.emit("event:retry-scheduled", { handler: "audit", ...where, offset: "3", attempt: 2, delayMs: 100 });
  events.emit("partition:waiting", { handler: "audit", ...where, offset: "3", retryInMs: 500, source: "ferry", errorClass: "DatabaseError", error: "down" });
  clock += 30_000;
  await progress.report();
  expect(lines.map(({ time: _t, level: _l, ...rest }) => rest)).toEqual([
    {
      msg: "handler:progress",
      handler: "totals",
      applied: 8,
      skipped: 3,
      deadLettered: 1,
      retries: 0,
      waits: 0,
      perSecond: 0.3,
      lag: 40,
      partitions: 2,
      sinceMs: 30_000,
    },
    { msg: "handler:progress", handler: "audit", applied: 0, skipped: 0, deadLettered: 0, retries: 1, waits: 1, perSecond: 0, sinceMs: 30_000 },
  ]);
  // Nothing happened since, and no lag: silence.
  lines.length = 0;
  owned = [{ handler: "totals", partitions: 2, lag: 0 }];
  clock += 30_000;
  await progress.report();
  expect(lines).toEqual([]);
  progress.stop();
});
