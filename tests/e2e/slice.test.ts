/**
 * The first vertical slice, end to end through the compiled binary: a handler directory with no
 * node_modules, the real 3-node Kafka cluster, real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { defaultPartitionConcurrency } from "../../runtime/config/schema.ts";
import { usableCores } from "../../runtime/config/usable-cores.ts";
import { testSql } from "../support/db.ts";
import { numberedEvents } from "../support/events.ts";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ferryBinary, runFerry, startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { testKafka } from "../support/kafka.ts";
import { waitFor } from "../support/wait.ts";

const sql = testSql();
let kafka: Awaited<ReturnType<typeof testKafka>>;
const running: FerryProcess[] = [];

beforeAll(async () => {
  kafka = await testKafka();
});

afterAll(async () => {
  for (const p of running) p.proc.kill("SIGKILL");
  await kafka.close();
  await sql.end();
});

/** A topic, an effects table and a handlers directory for one test. */
async function scenario(name: string) {
  const id = randomUUID().slice(0, 8);
  const topic = await kafka.createTopic(`slice-${name}`, 3);
  const table = `effects_${name.replace(/-/g, "_")}_${id}`;
  const handlersDir = writeHandlersDir({ "record-effect.ts": effectsHandler({ topic, table }) }, { [`0001_${table}.sql`]: effectsTableMigration(table) });
  const groupPrefix = `slice-${id}`;
  const count = async () => {
    const [row] = await sql<{ rows: number; ids: number }[]>`select count(*)::int as rows, count(distinct event_id)::int as ids from ${sql(table)}`;
    return row!;
  };
  const start = (binary?: string) => {
    const p = startFerry(["run", "--handlers", handlersDir, "--group-prefix", groupPrefix], {}, binary ? { binary, cwd: path.dirname(binary) } : {});
    running.push(p);
    return p;
  };
  const committedInKafka = async () => {
    const offsets = await kafka.admin.fetchCommittedOffsets(`${groupPrefix}.record-effect`, topic);
    return offsets.reduce((sum, o) => sum + Math.max(0, Number(o.offset)), 0);
  };
  return { topic, table, handlersDir, count, start, committedInKafka };
}

async function stop(p: FerryProcess) {
  p.proc.kill("SIGTERM");
  expect(await p.exited).toBe(0);
}

describe("ferry run (compiled binary, real Kafka and PostgreSQL)", () => {
  test("applies N events exactly once and commits their offsets after the database", async () => {
    const s = await scenario("n-events");
    const N = 2_000;
    await kafka.send(numberedEvents(s.topic, N));
    // The binary copied alone into an empty directory: nothing beside it, no node_modules anywhere near.
    const alone = path.join(mkdtempSync(path.join(tmpdir(), "ferry-alone-")), "ferry");
    copyFileSync(ferryBinary, alone);
    const ferry = s.start(alone);
    // Unless told, as many partitions at once as the cores it may use allow (its CPU quota counted).
    expect(await ferry.waitForLog("engine:running")).toMatchObject({ batchSize: 1000, partitionConcurrency: defaultPartitionConcurrency(usableCores()) });
    await waitFor("all effects", async () => (await s.count()).rows >= N, { timeoutMs: 90_000 });
    await waitFor("Kafka offsets committed", async () => (await s.committedInKafka()) === N);
    expect(await s.count()).toEqual({ rows: N, ids: N });
    await stop(ferry);
  });

  test("the same events delivered again add nothing", async () => {
    const s = await scenario("redelivered");
    const N = 500;
    const events = numberedEvents(s.topic, N);
    await kafka.send(events);
    const ferry = s.start();
    await waitFor("first delivery applied", async () => (await s.committedInKafka()) === N, { timeoutMs: 90_000 });
    await kafka.send(events); // same event ids, new offsets
    await waitFor("second delivery consumed", async () => (await s.committedInKafka()) === 2 * N, { timeoutMs: 90_000 });
    expect(await s.count()).toEqual({ rows: N, ids: N });
    const [inbox] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where topic = ${s.topic}`;
    expect(inbox!.n).toBe(N);
    await stop(ferry);
  });

  test("a worker SIGKILLed mid-run and restarted ends with exactly N effects", async () => {
    const s = await scenario("sigkill");
    const N = 6_000;
    await kafka.send(numberedEvents(s.topic, N));
    const first = s.start();
    await waitFor("some effects applied", async () => (await s.count()).rows > 300, { timeoutMs: 90_000, intervalMs: 20 });
    first.proc.kill("SIGKILL");
    await first.exited;
    const partial = (await s.count()).rows;
    const second = s.start();
    await waitFor("all effects after restart", async () => (await s.committedInKafka()) === N, { timeoutMs: 120_000 });
    expect(await s.count()).toEqual({ rows: N, ids: N });
    expect(partial).toBeGreaterThan(0);
    await stop(second);
  });
});

describe("handler validation (compiled binary)", () => {
  test("rejects a malformed handler module with its path and what was wrong", async () => {
    const dir = writeHandlersDir({
      "broken.ts": `import { defineHandler } from "ferry";\nexport default defineHandler({ topic: "orders", handle: "not a function" } as any);\n`,
    });
    const { code, output } = await runFerry(["run", "--handlers", dir]);
    expect(code).toBe(2);
    expect(output).toContain(`${dir}/broken.ts`);
    expect(output).toContain("`handle` must be a function");
  });

  test("rejects a module without a default export, naming the file", async () => {
    const dir = writeHandlersDir({ "empty.ts": `export const x = 1;\n` });
    const { code, output } = await runFerry(["run", "--handlers", dir]);
    expect(code).toBe(2);
    expect(output).toContain(`${dir}/empty.ts`);
    expect(output).toContain("no default export");
  });

  test("rejects a module that fails to import, naming the file", async () => {
    const dir = writeHandlersDir({ "typo.ts": `import { nothing } from "not-a-package";\nexport default nothing;\n` });
    const { code, output } = await runFerry(["run", "--handlers", dir]);
    expect(code).toBe(2);
    expect(output).toContain(`${dir}/typo.ts`);
    expect(output).toContain("importing it failed");
  });
});
