import { expect, test } from "bun:test";
import { createEngineEvents } from "../engine-events.ts";
import { trackProgress } from "./progress.ts";

test("idle is alive; a batch running past the limit is a stall until it finishes", () => {
  let t = 1_000_000;
  const events = createEngineEvents();
  const progress = trackProgress(events, 5_000, () => t);
  expect(progress.report()).toEqual({ stalled: [], batchesInFlight: 0, lastBatchAt: null });
  const where = { handler: "totals", topic: "orders", partition: 2 };
  events.emit("batch:started", { ...where, records: 10 });
  t += 4_000;
  expect(progress.report().stalled).toEqual([]);
  t += 2_000;
  expect(progress.report().stalled).toEqual(["handler totals: batch of orders/2 has been running for 6 s (limit 5 s)"]);
  events.emit("batch:failed", { ...where, durationMs: 6_000 });
  expect(progress.report()).toEqual({ stalled: [], batchesInFlight: 0, lastBatchAt: new Date(t).toISOString() });
});

test("a failed consume loop is not alive until the handler is started anew", () => {
  const events = createEngineEvents();
  const progress = trackProgress(events, 5_000);
  events.emit("consumer:failed", { handler: "totals", message: "broker went away for good" });
  expect(progress.report().stalled).toEqual(["handler totals: its consume loop failed: broker went away for good"]);
  events.emit("handler:replaced", { handler: "totals", file: "totals.ts" });
  expect(progress.report().stalled).toEqual([]);
});

test("a key-concurrent batch whose events keep finishing is alive however long it runs", () => {
  let t = 1_000_000;
  const events = createEngineEvents();
  const progress = trackProgress(events, 5_000, () => t);
  const where = { handler: "charges", topic: "orders", partition: 0 };
  events.emit("batch:started", { ...where, records: 1000 });
  for (let i = 0; i < 5; i++) {
    t += 4_000;
    events.emit("batch:progressed", where);
  }
  expect(progress.report().stalled).toEqual([]);
  t += 6_000;
  expect(progress.report().stalled).toEqual(["handler charges: batch of orders/0 has been running for 6 s (limit 5 s)"]);
  // Progress of a batch that already ended does not bring it back.
  events.emit("batch:applied", {
    ...where,
    records: 1000,
    skipped: 0,
    applied: 1000,
    technicalDuplicates: 0,
    functionalDuplicates: 0,
    deadLettered: 0,
    durationMs: 26_000,
  });
  events.emit("batch:progressed", where);
  expect(progress.report().batchesInFlight).toBe(0);
});
