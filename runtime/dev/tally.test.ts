import { expect, test } from "bun:test";
import { createEngineEvents } from "../engine-events.ts";
import { formatTallyLine, trackTotals, type TallyLine } from "./tally.ts";

test("a batch's dead letters and counts become one line with the handler's running totals", () => {
  const events = createEngineEvents();
  const lines: TallyLine[] = [];
  trackTotals(events, (line) => lines.push(line));
  const where = { handler: "order-totals", topic: "orders", partition: 2 };
  const batch = { ...where, records: 5, skipped: 0, deadLettered: 1, durationMs: 3 };
  events.emit("event:dead-lettered", { ...where, reason: "functional-duplicate" });
  events.emit("event:dead-lettered", { ...where, reason: "permanent" });
  events.emit("batch:applied", { ...batch, applied: 2, technicalDuplicates: 1, functionalDuplicates: 1 });
  events.emit("batch:applied", { ...batch, applied: 0, technicalDuplicates: 0, functionalDuplicates: 0 }); // nothing happened: no line
  events.emit("batch:applied", { ...batch, applied: 1, technicalDuplicates: 0, functionalDuplicates: 0 });
  expect(lines.map((l) => formatTallyLine(l, ".dlt"))).toEqual([
    "order-totals orders[2]: +2 applied, 1 technical duplicate skipped, 2 → orders.dlt (1 functional-duplicate, 1 permanent)  | total 2 applied, 1 skipped, 2 dead letters",
    "order-totals orders[2]: +1 applied  | total 3 applied, 1 skipped, 2 dead letters",
  ]);
});
