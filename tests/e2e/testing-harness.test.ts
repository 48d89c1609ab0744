/**
 * ferry/testing settles events as `ferry run` does: the same events through the harness (its own
 * fresh database, no Kafka) and through the compiled worker (real Kafka and PostgreSQL) leave the
 * same effect rows and the same dead letters, with the same reasons, codes and attempts.
 */
import { afterAll, expect, test } from "bun:test";
import path from "node:path";
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";
import { createHarness, type TestEvent } from "../../runtime/testing/harness.ts";
import { testServices } from "../support/env.ts";
import { type FerryProcess, startFerry } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { header, readRecords } from "../support/scenario.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const { sql, kafka, track } = useScenarios();
let worker: FerryProcess | undefined;
afterAll(() => {
  if (worker?.proc.exitCode === null) worker.proc.kill("SIGKILL");
});

/** What both sides are compared on: every dead letter's Ferry headers that do not carry a time. */
const letterFields = (headers: (name: string) => string | undefined) => ({
  eventId: headers("ferry-event-id"),
  reason: headers("ferry-reason"),
  errorClass: headers("ferry-error-class"),
  errorCode: headers("ferry-error-code"),
  errorMessage: headers("ferry-error-message"),
  attempts: headers("ferry-attempts"),
  heldBy: headers("ferry-held-by-event-id"),
  businessKey: headers("ferry-business-key"),
  sourceOffset: headers("ferry-source-offset"),
});

test("the harness and ferry run give the same effect rows and the same dead letters for the same events", async () => {
  const topic = await kafka().createTopic("harness", 1);
  const table = `harness_${topic.slice(-8)}`;
  const dir = writeHandlersDir({ "effects.ts": effectsHandler({ topic, table, businessKey: true }) }, { [`0001_${table}.sql`]: effectsTableMigration(table) });
  // Business keys are unique per handler for good, and the worker's database is shared: this run's carry the topic.
  const value = (n: number, key: string, fail?: string) => ({ n, key: `${topic}-${key}`, seq: n, ...(fail ? { fail } : {}) });
  const events: TestEvent[] = [
    { eventId: `${topic}-1`, key: "k", value: value(1, "a") },
    { eventId: `${topic}-1`, key: "k", value: value(1, "a") }, // redelivered: a technical duplicate
    { eventId: `${topic}-2`, key: "k", value: value(2, "a") }, // the same business key: a functional duplicate
    { eventId: `${topic}-3`, key: "k", value: Buffer.from("{poison") },
    { eventId: null, key: "k", value: value(4, "no-id") },
    { eventId: `${topic}-5`, key: "k", value: value(5, "perm", "permanent") },
    { eventId: `${topic}-6`, key: "k", value: value(6, "transient", "transient") },
    { eventId: `${topic}-7`, key: "k", value: value(7, "always", "always") },
    { eventId: `${topic}-8`, key: "k", value: value(8, "b") },
  ];

  // On PGlite (the default) and on the run's PostgreSQL server: both give the same.
  const results: Array<{ rows: unknown[]; letters: unknown[]; applied: number }> = [];
  for (const database of ["pglite", testServices().databaseUrl]) {
    const harness = await createHarness(path.join(dir, "effects.ts"), { database });
    try {
      const outcomes = await harness.send(events);
      expect(outcomes.map((o) => (o.outcome === "dead-lettered" ? o.reason : o.outcome))).toEqual([
        "applied",
        "technical-duplicate",
        "functional-duplicate",
        "decode-failed",
        "missing-event-id",
        "permanent",
        "applied",
        "exhausted",
        "applied",
      ]);
      results.push({
        rows: [...(await harness.sql`select event_id, n, kafka_key, biz_key, seq, attempt from ${harness.sql(table)} order by seq`)],
        letters: harness.deadLetters.map((l) => letterFields((name) => l.headers?.[name]?.toString())),
        applied: outcomes.filter((o) => o.outcome === "applied").length,
      });
    } finally {
      await harness.close();
    }
  }
  const expected = results[0]!;
  expect(results[1]).toEqual(expected);

  // The same events, byte for byte, through real Kafka to the compiled worker.
  const records: OutgoingRecord[] = events.map((e) => ({
    topic,
    key: e.key as string,
    value: e.value instanceof Uint8Array ? Buffer.from(e.value) : JSON.stringify(e.value),
    headers: typeof e.eventId === "string" ? { "event-id": e.eventId } : ({} as Record<string, string>),
  }));
  await kafka().send(records);
  worker = startFerry(["run", "--handlers", dir, "--group-prefix", `harness-${topic.slice(-8)}`]);
  track({ cleanup: () => worker?.proc.exitCode === null && worker.proc.kill("SIGKILL") });
  await waitFor("the worker's effects", async () => (await sql`select count(*)::int as n from ${sql(table)}`)[0]!.n === expected.applied, {
    timeoutMs: 60_000,
  });
  const letters = await readRecords(kafka(), `${topic}.dlt`, expected.letters.length);
  expect(letters.map((l) => letterFields((name) => header(l, name)))).toEqual(expected.letters as never);
  expect([...(await sql`select event_id, n, kafka_key, biz_key, seq, attempt from ${sql(table)} order by seq`)]).toEqual(expected.rows as never);
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
}, 180_000);
