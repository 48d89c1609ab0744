import { expect, test } from "bun:test";
import { asDatabaseError } from "../db/errors.ts";
import type { Failure } from "./policy.ts";
import { alike, finalVerdict, MAX_PROBES, type Probe, verdictOf } from "./systemic.ts";

const pg = (code: string): Failure => ({ error: asDatabaseError(Object.assign(new Error(`pg ${code}`), { code }))!, source: "handler" });
const thrown = (error: Error): Failure => ({ error, source: "handler" });
const failed = (failure: Failure): Probe => ({ kind: "failed", failure });

test("alike: same source, class and code; the message may differ", () => {
  expect(alike(pg("42P01"), pg("42P01"))).toBe(true);
  expect(alike(thrown(new TypeError("event 1")), thrown(new TypeError("event 2")))).toBe(true);
  expect(alike(pg("42P01"), pg("23505"))).toBe(false);
  expect(alike(thrown(new TypeError("x")), thrown(new RangeError("x")))).toBe(false);
  expect(alike(pg("42P01"), { ...pg("42P01"), source: "claim" })).toBe(false);
});

test("one neighbour that applies makes the failure the event's own", () => {
  expect(verdictOf(pg("42P01"), [failed(pg("42P01")), { kind: "applied" }])).toBe("event");
});

test("a neighbour failing differently makes it the event's own", () => {
  expect(verdictOf(pg("42P01"), [failed(pg("23505"))])).toBe("event");
});

test(`${MAX_PROBES} neighbours failing alike make it systemic`, () => {
  const probes = Array.from({ length: MAX_PROBES }, () => failed(pg("42P01")));
  expect(verdictOf(pg("42P01"), probes.slice(0, MAX_PROBES - 1))).toBe("undecided");
  expect(verdictOf(pg("42P01"), probes)).toBe("systemic");
});

test("when the events run out: alike failures so far are systemic; no neighbour at all leaves it the event's", () => {
  expect(finalVerdict(pg("42P01"), [failed(pg("42P01"))])).toBe("systemic");
  expect(finalVerdict(pg("42P01"), [])).toBe("event");
});
