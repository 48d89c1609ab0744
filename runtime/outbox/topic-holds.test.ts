import { expect, test } from "bun:test";
import { createTopicHolds } from "./topic-holds.ts";

test("a refused topic is held with a growing backoff, probed once when due, and let go when Kafka takes its rows", () => {
  const holds = createTopicHolds();
  expect(holds.excluded(0)).toEqual([]);
  expect(holds.nextDueInMs(0)).toBeUndefined();

  expect(holds.refused("invoices", "ERR_UNKNOWN_TOPIC_OR_PART", 1_000)).toMatchObject({ outages: 1, dueAt: 1_500, since: 1_000 });
  expect(holds.excluded(1_200)).toEqual(["invoices"]);
  expect(holds.nextDueInMs(1_200)).toBe(300);

  // Due: its rows are read again, and while the probe is under way no more of them are.
  expect(holds.excluded(1_500)).toEqual([]);
  holds.sending(["invoices", "orders"]);
  expect(holds.excluded(1_500)).toEqual(["invoices"]);
  expect(holds.nextDueInMs(1_500)).toBeUndefined();

  // Refused again: twice the wait, the first refusal's time kept.
  expect(holds.refused("invoices", "ERR_UNKNOWN_TOPIC_OR_PART", 2_000)).toMatchObject({ outages: 2, dueAt: 3_000, since: 1_000, probing: false });
  holds.sending(["invoices"]);
  // The broker failed the probe: due again, outages unchanged.
  holds.drained();
  expect(holds.list()).toMatchObject([{ topic: "invoices", outages: 2, probing: false }]);

  // Due, but a read that was not full found none of its rows (deleted): an idle relay must not wake for it at once, for ever.
  holds.refused("gone", "ERR_UNKNOWN_TOPIC_OR_PART", 0);
  holds.sending(["invoices"]); // its probe under way: excluded from the read, kept
  holds.emptied(holds.excluded(10_000), new Set(["orders"]));
  expect(holds.list().map((h) => h.topic)).toEqual(["invoices"]);

  expect(holds.accepted("invoices")).toMatchObject({ outages: 2 });
  expect(holds.accepted("invoices")).toBeUndefined();
  expect(holds.excluded(10_000)).toEqual([]);
});
