import { describe, expect, test } from "bun:test";
import { testServices } from "../../tests/support/env.ts";
import { backendsSeen, sessionsMove } from "./session-check.ts";

describe("sessions that move between transactions (a pooler in transaction mode)", () => {
  test("a connection that keeps its backend, beside another: sessions stay", () => {
    expect(sessionsMove({ before: 10, other: 11, after: 10 })).toBe(false);
  });

  test("the second connection given the first's backend, or the first moved: sessions move", () => {
    expect(sessionsMove({ before: 10, other: 10, after: 11 })).toBe(true);
    expect(sessionsMove({ before: 10, other: 12, after: 11 })).toBe(true);
    expect(sessionsMove({ before: 10, other: 10, after: 10 })).toBe(true);
    // No answer for the first while the second held a transaction: a pooler with one server connection.
    expect(sessionsMove({ before: 10, other: 10, after: Number.NaN })).toBe(true);
  });

  test("PostgreSQL reached directly keeps each connection's session", async () => {
    const seen = await backendsSeen({ url: testServices().databaseUrl });
    expect(seen.other).not.toBe(seen.before);
    expect(seen.after).toBe(seen.before);
    expect(sessionsMove(seen)).toBe(false);
  });
});
