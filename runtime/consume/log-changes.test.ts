import { describe, expect, test } from "bun:test";
import { checkArrival, checkPosition, resumeAfter } from "./log-changes.ts";

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

test("resumeAfter: the log start after lost or replaced records, nowhere else", () => {
  expect(resumeAfter({ kind: "records-deleted", from: "1", to: "9", skipped: "8" })).toBe("9");
  expect(resumeAfter({ kind: "log-replaced", stored: "5000", logStart: "0", logEnd: "50" })).toBe("0");
  expect(resumeAfter({ kind: "in-range" })).toBeUndefined();
});
