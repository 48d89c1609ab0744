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

/** A test of the handler on the real engine: ferry dev, events through ferry produce, the table read back. */
export function handlerTest(n: HandlerNames): string {
  return `// Runs ${n.handler} on the real engine (ferry dev: embedded Kafka, PostgreSQL and registry):
//   bun test handlers/${n.handler}.test.ts        (FERRY_BIN=<path> picks the ferry binary)
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ferry = process.env.FERRY_BIN ?? Bun.which("ferry") ?? path.resolve(import.meta.dir, "../dist/ferry");
const handlersDir = import.meta.dir;
const schemasDir = path.resolve(handlersDir, "${n.schemasFromHandlers}");
const dataDir = mkdtempSync(path.join(tmpdir(), "${n.handler}-test-"));
const dev = Bun.spawn([ferry, "dev", "--handlers", handlersDir, "--schemas", schemasDir, "--data-dir", dataDir, "--http-port", "0", "--json"], {
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
    { stdin: new Blob([input]) },
  );
  expect(produce.exitCode).toBe(0);

  const done = await until("the three events", () =>
    lines.find((l) => l.event === "dev:tally" && l.handler === "${n.handler}" && l.totals.applied + l.totals.technicalDuplicates + l.totals.functionalDuplicates === 3),
  );
  expect(done.totals).toMatchObject({ applied: 1, technicalDuplicates: 1, functionalDuplicates: 1 });
  const sql = postgres(ready.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    expect(await sql\`select id, amount_cents::text as cents, event_id from ${n.table}\`).toEqual([{ id: "t-1", cents: "9007199254740990", event_id: "e-1" }]);
  } finally {
    await sql.end();
  }
}, 120_000);
`;
}
