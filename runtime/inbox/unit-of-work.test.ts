import { expect, test } from "bun:test";
import type { Sql } from "postgres";
import { DatabaseError } from "../errors.ts";
import { judge } from "../failure/policy.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { createLogger } from "../log/logger.ts";
import { applyUnit } from "./unit-of-work.ts";

test("a transaction the driver never settles is abandoned at its deadline as the environment's failure", async () => {
  const lines: Array<Record<string, unknown>> = [];
  const hung = { begin: () => new Promise(() => {}) } as unknown as Sql;
  const started = performance.now();
  const result = await applyUnit(
    [],
    { topic: "t", partition: 0, offset: "1" },
    {
      sql: hung,
      handler: { name: "h", timeoutMs: 20 } as LoadedHandler,
      groupId: "g",
      log: createLogger({ level: "warn", sink: (line) => lines.push(JSON.parse(line)) }),
      attempt: 1,
      signal: new AbortController().signal,
      graceMs: 50,
    },
  );
  expect(performance.now() - started).toBeGreaterThanOrEqual(85);
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.failure.error).toBeInstanceOf(DatabaseError);
  expect(result.failure.error).toMatchObject({ code: "UNIT_DEADLINE", category: "connection", retriable: true });
  expect(result.failure.error.message).toContain("waiting on: begin");
  expect(judge({ error: result.failure.error, source: result.failure.source })).toEqual({ fault: "environment" });
  expect(lines.find((l) => l.msg === "unit:abandoned")).toMatchObject({ step: "begin", waitedMs: 90 });
});
