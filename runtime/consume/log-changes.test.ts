import { describe, expect, test } from "bun:test";
import { checkArrival, checkPosition, decideResume } from "./log-changes.ts";

describe("checkPosition", () => {
  test.each([
    ["inside the log", "150", { logStart: "100", logEnd: "200" }, { kind: "in-range" }],
    ["at the log start", "100", { logStart: "100", logEnd: "200" }, { kind: "in-range" }],
    ["at the log end (caught up)", "200", { logStart: "100", logEnd: "200" }, { kind: "in-range" }],
    ["an empty log, caught up", "200", { logStart: "200", logEnd: "200" }, { kind: "in-range" }],
    ["below the log start", "100", { logStart: "150", logEnd: "200" }, { kind: "records-deleted", from: "100", to: "150", skipped: "50" }],
    ["every record deleted", "100", { logStart: "200", logEnd: "200" }, { kind: "records-deleted", from: "100", to: "200", skipped: "100" }],
    ["beyond the end of a new log", "5000", { logStart: "0", logEnd: "50" }, { kind: "log-replaced", stored: "5000", logStart: "0", logEnd: "50" }],
    ["beyond the end of an empty new log", "5000", { logStart: "0", logEnd: "0" }, { kind: "log-replaced", stored: "5000", logStart: "0", logEnd: "0" }],
    ["bounds unknown", "100", { logStart: "-1", logEnd: "-1" }, { kind: "in-range" }],
  ] as const)("%s", (_, next, bounds, expected) => {
    expect(checkPosition(next, bounds)).toEqual(expected);
  });
});

describe("checkArrival", () => {
  test.each([
    ["the expected record", 10, 10, { logStart: "0", logEnd: "20" }, { kind: "in-range" }],
    ["a gap of transaction markers or compaction", 10, 12, { logStart: "0", logEnd: "20" }, { kind: "in-range" }],
    ["a repeat of an unchanged log", 10, 8, { logStart: "0", logEnd: "20" }, { kind: "in-range" }],
    ["a jump to the log start", 10, 150, { logStart: "150", logEnd: "200" }, { kind: "records-deleted", from: "10", to: "150", skipped: "140" }],
    [
      "a jump where the log start moved on since",
      10,
      150,
      { logStart: "170", logEnd: "200" },
      { kind: "records-deleted", from: "10", to: "150", skipped: "140" },
    ],
    [
      "a record of a log ending below the expected offset",
      200,
      0,
      { logStart: "0", logEnd: "30" },
      { kind: "log-replaced", stored: "200", logStart: "0", logEnd: "30" },
    ],
    ["bounds never seen", 200, 0, { logStart: "-1", logEnd: "-1" }, { kind: "in-range" }],
  ] as const)("%s", (_, expected, offset, bounds, change) => {
    expect(checkArrival(expected, offset, bounds)).toEqual(change);
  });
});

describe("decideResume", () => {
  const bounds = { logStart: "100", logEnd: "200" };
  test.each([
    ["PostgreSQL's offset, in range", { pg: "150", kafka: undefined, bounds }, { offset: "150", change: { kind: "in-range" } }],
    ["Kafka's commit when ahead (an operator moved the group)", { pg: "150", kafka: "170", bounds }, { offset: "170", change: { kind: "in-range" } }],
    [
      "Kafka's commit at the high watermark past the stable end (an open transaction upstream) is not a replaced log",
      { pg: "150", kafka: "210", bounds },
      { offset: "210", change: { kind: "in-range" } },
    ],
    [
      "below the log start: from the log start, the offsets lost",
      { pg: "40", kafka: "60", bounds },
      { offset: "100", change: { kind: "records-deleted", from: "60", to: "100", skipped: "40" } },
    ],
    [
      "PostgreSQL's offset beyond the end: the log was replaced, Kafka's commit with it",
      { pg: "5000", kafka: "5000", bounds: { logStart: "0", logEnd: "40" } },
      { offset: "0", change: { kind: "log-replaced", stored: "5000", logStart: "0", logEnd: "40" } },
    ],
    [
      "the lane saw the new log, which grew past the offset since",
      { pg: "50", kafka: undefined, bounds: { logStart: "0", logEnd: "80" }, logReplaced: true },
      { offset: "0", change: { kind: "log-replaced", stored: "50", logStart: "0", logEnd: "80" } },
    ],
    [
      "no offset in PostgreSQL, Kafka's commit below the log start (a group Ferry takes over)",
      { pg: undefined, kafka: "10", bounds },
      { offset: "100", change: { kind: "records-deleted", from: "10", to: "100", skipped: "90" } },
    ],
    [
      "no offset in PostgreSQL, Kafka's commit past the end is never judged a replaced log",
      { pg: undefined, kafka: "210", bounds },
      { offset: "210", change: { kind: "in-range" } },
    ],
    ["bounds unknown: as before", { pg: "150", kafka: "120", bounds: { logStart: "-1", logEnd: "-1" } }, { offset: "150", change: { kind: "in-range" } }],
  ] as const)("%s", (_, input, expected) => {
    expect(decideResume(input)).toEqual(expected);
  });

  test("neither PostgreSQL nor Kafka holds an offset: no position, the client starts from the log start", () => {
    expect(decideResume({ pg: undefined, kafka: undefined, bounds })).toBeUndefined();
  });
});
