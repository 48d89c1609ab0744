import { describe, expect, test } from "bun:test";
import { DecodeError, InfrastructureError, PermanentError } from "../errors.ts";
import { backoffDelay, classifyFailure, isInfrastructureFailure } from "./classify.ts";

const policy = { attempts: 3, backoffMs: 100, maxBackoffMs: 1_000 };
const half = () => 0.5;

describe("classifyFailure", () => {
  test.each([
    ["an ordinary error on attempt 1", new Error("boom"), 1, { kind: "retry", delayMs: 75 }],
    ["an ordinary error on attempt 2", new Error("boom"), 2, { kind: "retry", delayMs: 150 }],
    ["an ordinary error on the last attempt", new Error("boom"), 3, { kind: "dead-letter", reason: "exhausted" }],
    ["a permanent error", new PermanentError("no"), 1, { kind: "dead-letter", reason: "permanent" }],
    ["a decode error", new DecodeError("bad-json", "x"), 1, { kind: "dead-letter", reason: "decode-failed" }],
    ["a lost database connection", Object.assign(new Error("gone"), { code: "CONNECTION_CLOSED" }), 3, { kind: "infrastructure" }],
    [
      "an admin shutdown (57P01) wrapped by drizzle",
      new Error("q", { cause: Object.assign(new Error("x"), { code: "57P01" }) }),
      1,
      { kind: "infrastructure" },
    ],
    ["an InfrastructureError", new InfrastructureError("db down"), 9, { kind: "infrastructure" }],
    ["a unique violation from the handler's own SQL", Object.assign(new Error("dup"), { code: "23505" }), 1, { kind: "retry", delayMs: 75 }],
  ])("%s", (_label, error, attempt, expected) => {
    expect(classifyFailure(error, attempt, policy, half)).toEqual(expected as never);
  });
});

describe("backoffDelay", () => {
  test("doubles per attempt and stays within [d/2, d], capped", () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(10, policy, () => 1)).toBe(1_000);
  });
});

test("a non-error value is not infrastructure", () => {
  expect(isInfrastructureFailure("boom")).toBe(false);
  expect(isInfrastructureFailure(undefined)).toBe(false);
});
