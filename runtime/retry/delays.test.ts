import { expect, test } from "bun:test";
import { dueAt, parseDelay } from "./delays.ts";

test.each([
  ["500ms", 500],
  ["5s", 5_000],
  ["1.5s", 1_500],
  ["1m", 60_000],
  ["10m", 600_000],
  ["1h", 3_600_000],
  ["24h", 86_400_000],
  [250, 250],
])("parses %p as %p ms", (input, ms) => {
  expect(parseDelay(input)).toEqual({ ms });
});

test.each([
  ["5", "write a number and a unit"],
  ["5 sec", "write a number and a unit"],
  ["-1s", "write a number and a unit"],
  ["0s", "at least 1 ms"],
  [0, "at least 1 ms"],
  [Number.NaN, "NaN is not a delay: it must be at least 1 ms"],
  [Number.POSITIVE_INFINITY, "Infinity is not a delay"],
  ["25h", "longer than 24h"],
  [null, "got null"],
  [true, "got boolean"],
])("refuses %p, saying why", (input, why) => {
  const parsed = parseDelay(input);
  expect("problem" in parsed && parsed.problem).toContain(why);
});

test("an event sent to a retry topic is due its delay after it was sent", () => {
  expect(dueAt(1_000, 5_000)).toBe(6_000);
});
