/**
 * The files `ferry new handler` writes, as pure functions of the names: the event in Avro IDL,
 * the handler (Avro, business key, a projection table), its migration and its test.
 */
export interface HandlerNames {
  /** kebab-case: the handler's file name and name, e.g. `invoice-totals`. */
  handler: string;
  topic: string;
  /** The event record, PascalCase, e.g. `InvoiceIssued`. */
  event: string;
  /** kebab-case of the event: its schema files' stem, e.g. `invoice-issued`. */
  eventFile: string;
  /** The projection table, snake_case of the handler. */
  table: string;
  namespace: string;
  /** From the handlers directory to the schemas directory, e.g. `../schemas`. */
  schemasFromHandlers: string;
}

export function eventIdl(n: HandlerNames): string {
  return `/**
 * The ${n.event} event on topic "${n.topic}". Edit the fields, then regenerate the schema and the
 * TypeScript types: ferry schemas build && ferry schemas codegen
 */
@namespace("${n.namespace}")
protocol ${n.event}Events {
  /** What happened, who publishes it, how it is keyed. */
  record ${n.event} {
    /** Unique per ${n.event}: the handler's business key (a second event with the same id is a functional duplicate). */
    string id;
    /** An amount in the smallest currency unit. */
    long amountCents;
    /** When it happened, in milliseconds since the epoch (UTC). */
    timestamp_ms occurredAt;
  }
}
`;
}

export function handlerModule(n: HandlerNames): string {
  return `/**
 * ${n.handler}: keeps the table ${n.table}, one row per ${n.event}, from topic "${n.topic}".
 * Technical duplicates (same event id) are skipped and functional duplicates (same business key,
 * new event id) dead-lettered to "${n.topic}.dlt" by Ferry before handle() runs.
 */
import { defineHandler } from "ferry";
import type { ${n.event} } from "${n.schemasFromHandlers}/${n.eventFile}.ts";

export default defineHandler<${n.event}>({
  topic: "${n.topic}",
  format: "avro",
  schema: "${n.schemasFromHandlers}/${n.eventFile}.avsc", // the reader schema: what handle() receives
  businessKey: (event) => event.id,
  async handle(event, ctx) {
    // Retrying cannot fix bad data: dead-letter it at once with the reason.
    if (event.amountCents < 0) throw ctx.permanent(\`${n.event} \${event.id} has a negative amount: \${event.amountCents}\`);
    // ctx.sql runs in the transaction that also records the event as done: both commit, or neither.
    await ctx.sql\`insert into ${n.table} \${ctx.sql({
      id: event.id,
      amount_cents: event.amountCents,
      occurred_at: new Date(event.occurredAt),
      event_id: ctx.event.id,
    })}\`;
  },
});
`;
}

export function migrationSql(n: HandlerNames): string {
  return `-- The ${n.handler} handler's table. Applied by ferry run/dev/migrate; never edit it once applied: add a new file.
create table if not exists ${n.table} (
  id text primary key,
  amount_cents bigint not null,
  occurred_at timestamptz not null,
  event_id text not null,
  applied_at timestamptz not null default now()
);
`;
}

/**
 * The handler's cases on the engine's own code in milliseconds (ferry/testing): a new event, a
 * redelivery, a functional duplicate, a poison value and a permanent error.
 */
export function handlerTest(n: HandlerNames): string {
  return `// ${n.handler}'s cases, each event through what \`ferry run\` does (event id, Avro decoding, inbox,
// business key, failure policy, dead letters) on a fresh database with the migrations of this
// directory: PGlite in memory, or one created on FERRY_TEST_DATABASE_URL. No Kafka; retries wait
// on a fake clock.
//   ferry test handlers/${n.handler}.test.ts
import { afterAll, expect, test } from "bun:test";
import { createHarness } from "ferry/testing";
import type { ${n.event} } from "${n.schemasFromHandlers}/${n.eventFile}.ts";

const ferry = await createHarness(\`\${import.meta.dir}/${n.handler}.ts\`);
afterAll(() => ferry.close());

const issued = (id: string, amountCents = 1250): ${n.event} => ({ id, amountCents, occurredAt: 1760000000000 });
const row = async (id: string) => [...(await ferry.sql\`select amount_cents::text as cents, event_id from ${n.table} where id = \${id}\`)];

test("applies a new event: one row", async () => {
  // The largest long Ferry decodes: the table's bigint holds it (an int would not).
  const [outcome] = await ferry.send({ eventId: "new-1", key: "a-1", value: issued("a-1", 9007199254740990) });
  expect(outcome).toMatchObject({ outcome: "applied", attempts: 1 });
  expect(await row("a-1")).toEqual([{ cents: "9007199254740990", event_id: "new-1" }]);
});

test("skips a redelivery: the same event id is a technical duplicate, the handler does not run again", async () => {
  const outcomes = await ferry.send([
    { eventId: "again-1", value: issued("b-1") },
    { eventId: "again-1", value: issued("b-1") },
  ]);
  expect(outcomes.map((o) => o.outcome)).toEqual(["applied", "technical-duplicate"]);
  expect(await row("b-1")).toHaveLength(1);
});

test("dead-letters a functional duplicate: the same id under a new event id", async () => {
  const [, duplicate] = await ferry.send([
    { eventId: "first-1", value: issued("c-1", 100) },
    { eventId: "second-1", value: issued("c-1", 200) },
  ]);
  expect(duplicate).toMatchObject({
    outcome: "dead-lettered",
    reason: "functional-duplicate",
    headers: { "ferry-held-by-event-id": "first-1", "ferry-business-key": "c-1" },
  });
  expect(await row("c-1")).toEqual([{ cents: "100", event_id: "first-1" }]);
});

test("dead-letters a poison value without calling the handler", async () => {
  const [outcome] = await ferry.send({ eventId: "poison-1", value: Buffer.from("not avro at all") });
  expect(outcome).toMatchObject({ outcome: "dead-lettered", reason: "decode-failed", headers: { "ferry-error-code": "bad-magic-byte" } });
});

test("dead-letters a negative amount at once: a permanent error is not retried", async () => {
  const [outcome] = await ferry.send({ eventId: "negative-1", value: issued("d-1", -5) });
  expect(outcome).toMatchObject({ outcome: "dead-lettered", reason: "permanent", attempts: 1 });
  expect(outcome?.outcome === "dead-lettered" && outcome.headers["ferry-error-message"]).toContain("negative amount");
  expect(await row("d-1")).toEqual([]);
});
`;
}

/** The wiring end to end: ferry dev (embedded Kafka, registry, PGlite), events through ferry produce, the table read back. */
export function handlerDevTest(n: HandlerNames): string {
  return `// Runs ${n.handler} end to end on ferry dev (embedded Kafka, PostgreSQL and registry): the wiring
// of topic, schema, registry and handler. Takes seconds; the cases are in ${n.handler}.test.ts.
//   ferry test handlers/${n.handler}.dev.test.ts        (FERRY_BIN=<path> picks the ferry binary)
import { afterAll, expect, test } from "bun:test";
import { connect } from "ferry/testing";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ferry = process.env.FERRY_BIN ?? Bun.which("ferry") ?? path.resolve(import.meta.dir, "../dist/ferry");
const handlersDir = import.meta.dir;
const schemasDir = path.resolve(handlersDir, "${n.schemasFromHandlers}");
const dataDir = mkdtempSync(path.join(tmpdir(), "${n.handler}-test-"));
// process.env as it is now: \`ferry test\` runs the binary as Bun and takes that switch out of it (a spawn's default is the environment at start).
const env = { ...process.env };
const dev = Bun.spawn([ferry, "dev", "--handlers", handlersDir, "--schemas", schemasDir, "--data-dir", dataDir, "--http-port", "0", "--json"], {
  env,
  stdout: "pipe",
  stderr: "inherit",
});
const lines: Array<Record<string, any>> = [];
void (async () => {
  let pending = "";
  for await (const chunk of dev.stdout.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    for (let nl = pending.indexOf("\\n"); nl >= 0; nl = pending.indexOf("\\n")) {
      lines.push(JSON.parse(pending.slice(0, nl)));
      pending = pending.slice(nl + 1);
    }
  }
})();
afterAll(async () => {
  dev.kill("SIGINT");
  await dev.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

async function until<T>(what: string, find: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await Bun.sleep(100)) {
    const found = find();
    if (found !== undefined) return found;
    if (dev.exitCode !== null) throw new Error(\`ferry dev exited with \${dev.exitCode} while waiting for \${what}\`);
  }
  throw new Error(\`timed out waiting for \${what}\`);
}

test("applies an event once: a redelivery is skipped, the same id with a new event id dead-lettered", async () => {
  const ready = await until("ferry dev", () => lines.find((l) => l.event === "dev:ready"));
  // The largest long Ferry decodes: the table's bigint holds it (an int would not).
  const event = { id: "t-1", amountCents: 9007199254740990, occurredAt: 1760000000000 };
  const input = [
    { eventId: "e-1", key: event.id, value: event },
    { eventId: "e-1", key: event.id, value: event }, // the same event again: skipped
    { eventId: "e-2", key: event.id, value: event }, // the same id, another event: dead-lettered
  ].map((line) => JSON.stringify(line)).join("\\n");
  const produce = Bun.spawnSync(
    [ferry, "produce", "--topic", "${n.topic}", "--schema", path.join(schemasDir, "${n.eventFile}.avsc"), "--envelope",
      "--brokers", ready.brokers.join(","), "--registry-url", ready.registryUrl],
    { env, stdin: new Blob([input]) },
  );
  expect(produce.exitCode).toBe(0);

  const done = await until("the three events", () =>
    lines.find((l) => l.event === "dev:tally" && l.handler === "${n.handler}" && l.totals.applied + l.totals.technicalDuplicates + l.totals.functionalDuplicates === 3),
  );
  expect(done.totals).toMatchObject({ applied: 1, technicalDuplicates: 1, functionalDuplicates: 1 });
  const sql = connect(ready.databaseUrl);
  try {
    expect(await sql\`select id, amount_cents::text as cents, event_id from ${n.table}\`).toEqual([{ id: "t-1", cents: "9007199254740990", event_id: "e-1" }]);
  } finally {
    await sql.end();
  }
}, 120_000);
`;
}
