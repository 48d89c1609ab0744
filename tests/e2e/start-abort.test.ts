/**
 * A stop signal during start-up, through the compiled binary on the real services: `ferry run`
 * (and `ferry dev`) stops what had started — consumers leave their groups, the pool closes — says
 * the start-up was aborted and exits 0; a second signal still exits 130 at once. Each test waits
 * for a sign that the worker is where the signal is meant to land (a log line, a lock wait, a
 * running query), not for a fixed time.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import postgres from "postgres";
import { testSql } from "../support/db.ts";
import { startDevProcess } from "../support/dev-process.ts";
import { testServices } from "../support/env.ts";
import { ferryBinary, startFerry, type FerryProcess } from "../support/ferry-process.ts";
import { effectsHandler, effectsTableMigration, writeHandlersDir } from "../support/handlers.ts";
import { groupMembers } from "../support/kafka.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;
// A pool of its own: the suite's is ended by its own afterAll, maybe before this one runs.
const admin = testSql();
const databases: string[] = [];
afterAll(async () => {
  for (const name of databases) await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

/** `ferry run` over `handlers` handlers, each on a topic of its own; the groups are `<prefix>.h<i>`. */
async function worker(
  name: string,
  { handlers = 1, migrations = {}, env = {} }: { handlers?: number; migrations?: Record<string, string>; env?: Record<string, string> } = {},
) {
  const files: Record<string, string> = {};
  const tables: Record<string, string> = {};
  for (let i = 0; i < handlers; i++) {
    const table = `effects_${name.replace(/[^a-z0-9]/g, "_")}_${randomUUID().slice(0, 8)}`;
    files[`h${i}.ts`] = effectsHandler({ topic: await suite.kafka().createTopic(`${name}-${i}`, 3), table });
    tables[`000${i}_${table}.sql`] = effectsTableMigration(table);
  }
  const dir = writeHandlersDir(files, { ...tables, ...migrations });
  const prefix = `${name}-${randomUUID().slice(0, 8)}`;
  const p = startFerry(["run", "--handlers", dir, "--group-prefix", prefix], env);
  suite.track({ cleanup: () => p.proc.exitCode === null && p.proc.kill("SIGKILL") });
  return { p, groups: Array.from({ length: handlers }, (_, i) => `${prefix}.h${i}`) };
}

/** A database nobody else uses: its migration lock and its sessions are this test's alone. */
async function freshDatabase(): Promise<{ name: string; url: string }> {
  const name = `ferry_start_abort_${randomUUID().slice(0, 8)}`;
  await admin.unsafe(`create database ${name}`);
  databases.push(name);
  return { name, url: testServices().databaseUrl.replace(/\/[^/]*$/, `/${name}`) };
}

/**
 * Until the process catches SIGTERM (Linux's SigCgt mask): from then on a signal is Ferry's to
 * handle. Before it, the runtime is still loading the binary and the signal is the default kill.
 */
async function untilCatchingSignals(p: FerryProcess): Promise<void> {
  const sigterm = 1n << 14n;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await Bun.sleep(1)) {
    if (p.proc.exitCode !== null) throw new Error(`ferry exited with ${p.proc.exitCode} before it caught SIGTERM:\n${p.output()}`);
    const status = await Bun.file(`/proc/${p.proc.pid}/status`)
      .text()
      .catch(() => "");
    const caught = /SigCgt:\s*([0-9a-f]+)/.exec(status)?.[1];
    if (caught && (BigInt(`0x${caught}`) & sigterm) !== 0n) return;
  }
  throw new Error("ferry did not catch SIGTERM within 30 s");
}

/** Polls every few milliseconds (waitForLog's 50 ms is too coarse to land a signal in a short step). */
async function untilLogged(p: FerryProcess, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return waitFor(
    `log line ${msg}`,
    () => {
      const line = p.logs.find((l) => l.msg === msg);
      if (!line && p.proc.exitCode !== null) throw new Error(`ferry exited with ${p.proc.exitCode} before logging ${msg}:\n${p.output().slice(-3000)}`);
      return line;
    },
    { timeoutMs, intervalMs: 2 },
  );
}

/** Exit 0, the start-up said it was aborted by `signal`, and the engine never ran. */
async function expectStartAborted(p: FerryProcess, signal = "SIGTERM") {
  const code = await p.exited;
  if (code !== 0) throw new Error(`ferry exited with ${code}, not 0:\n${p.output().slice(-3000)}`);
  // The last lines may still be in the pipe when the exit is seen.
  const aborted = await waitFor("engine:start-aborted", () => p.logs.find((l) => l.msg === "engine:start-aborted"), { timeoutMs: 5_000, intervalMs: 10 });
  expect(aborted).toMatchObject({ level: "info", signal });
  expect(p.logs.map((l) => l.msg)).not.toContain("engine:running");
}

test("a SIGTERM as soon as ferry run can take one aborts the start-up before anything connects (exit 0)", async () => {
  const { p, groups } = await worker("abort-first");
  await untilCatchingSignals(p);
  p.proc.kill("SIGTERM");
  await expectStartAborted(p);
  expect(p.logs.map((l) => l.msg)).not.toContain("migration:applied");
  expect(await groupMembers(groups)).toEqual(new Map([[groups[0]!, 0]]));
});

test("a SIGTERM 200 ms after spawn aborts the start-up wherever it is (exit 0, no group member left)", async () => {
  const { p, groups } = await worker("abort-200ms", { handlers: 2 });
  await Bun.sleep(200);
  await untilCatchingSignals(p); // a slow machine may still be loading the binary
  p.proc.kill("SIGTERM");
  await expectStartAborted(p);
  expect([...(await groupMembers(groups)).values()]).toEqual([0, 0]);
});

test("a SIGTERM while another replica holds the migration lock cancels the wait; the holder keeps it", async () => {
  const db = await freshDatabase();
  const holder = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const held = await holder.reserve();
    await held`select pg_advisory_lock(${0x6665_7272})`;
    const { p } = await worker("abort-lock-wait", { env: { FERRY_DATABASE_URL: db.url } });
    await waitFor(
      "ferry to wait for the migration lock",
      async () => {
        const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and not l.granted and d.datname = ${db.name}`;
        return row!.n > 0;
      },
      { intervalMs: 20 },
    );
    p.proc.kill("SIGTERM");
    await expectStartAborted(p);
    const [state] = await held<{ migrations: string | null; mine: boolean }[]>`
      select to_regclass('ferry_migrations')::text as migrations,
        exists (select 1 from pg_locks where locktype = 'advisory' and granted and pid = pg_backend_pid()) as mine`;
    expect(state).toEqual({ migrations: null, mine: true });
    // Its pool is closed: no session of the worker is left on the database.
    await waitFor(
      "the worker's sessions to end",
      async () => {
        const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${db.name} and application_name = 'ferry'`;
        return row!.n === 0;
      },
      { timeoutMs: 10_000 },
    );
    held.release();
  } finally {
    await holder.end();
  }
});

test("a SIGTERM during a migration lets it commit, then aborts before Kafka (exit 0)", async () => {
  const db = await freshDatabase();
  const { p, groups } = await worker("abort-migrating", {
    env: { FERRY_DATABASE_URL: db.url },
    migrations: { "0009_slow.sql": "select pg_sleep(2)" },
  });
  // The first start-up line: a migration of the fresh database was applied; 0009_slow is still to come.
  await untilLogged(p, "migration:applied");
  p.proc.kill("SIGTERM");
  await untilLogged(p, "engine:start-aborting");
  await expectStartAborted(p);
  const applied = p.logs.filter((l) => l.msg === "migration:applied").map((l) => l.migration);
  expect(applied).toContain("handlers/0009_slow");
  const own = postgres(db.url, { max: 1, onnotice: () => {} });
  const [row] = await own<{ n: number }[]>`select count(*)::int as n from ferry_migrations where name = '0009_slow'`;
  await own.end();
  expect(row!.n).toBe(1);
  expect(p.logs.map((l) => l.msg)).not.toContain("handler:started");
  expect(await groupMembers(groups)).toEqual(new Map([[groups[0]!, 0]]));
});

test("a SIGTERM just before engine:running: consumers that joined leave their groups (exit 0)", async () => {
  const { p, groups } = await worker("abort-joined", { handlers: 8 });
  const joined = await untilLogged(p, "partitions:assigned");
  p.proc.kill("SIGTERM");
  await expectStartAborted(p);
  const started = p.logs.filter((l) => l.msg === "handler:started").map((l) => l.handler);
  const stopped = p.logs.filter((l) => l.msg === "handler:stopped").map((l) => l.handler);
  expect(started).toContain(joined.handler);
  expect(started.length).toBeLessThan(groups.length); // the signal came while handlers were still starting
  expect(stopped.sort()).toEqual(started.sort());
  // Left, not timed out: a killed member would stay for its 10 s session. The coordinator may
  // take a moment to process a LeaveGroup on a loaded machine: polled for well under that.
  const empty = groups.map(() => 0);
  let members: number[] = [];
  const until = Date.now() + 5_000;
  do {
    members = [...(await groupMembers(groups)).values()];
    if (members.every((n) => n === 0)) break;
    await Bun.sleep(250);
  } while (Date.now() < until);
  expect(members).toEqual(empty);
});

test("a second SIGTERM while the start-up unwinds exits 130 at once", async () => {
  const db = await freshDatabase();
  const { p } = await worker("abort-twice", {
    env: { FERRY_DATABASE_URL: db.url },
    migrations: { "0009_slow.sql": "select pg_sleep(30)" },
  });
  await waitFor(
    "the slow migration to run",
    async () => {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${db.name} and query like '%pg_sleep(30)%'`;
      return row!.n > 0;
    },
    { intervalMs: 20 },
  );
  p.proc.kill("SIGTERM");
  await untilLogged(p, "engine:start-aborting");
  const t0 = Date.now();
  p.proc.kill("SIGTERM");
  expect(await p.exited).toBe(130);
  expect(Date.now() - t0).toBeLessThan(3_000);
  await waitFor("engine:second-signal-exit", () => p.logs.find((l) => l.msg === "engine:second-signal-exit"), { timeoutMs: 5_000 });
});

test("ferry dev: a SIGINT while its embedded parts start stops them and exits 0", async () => {
  const dev = startDevProcess([ferryBinary, "dev"], { cwd: path.resolve(import.meta.dir, "../..") });
  suite.track(dev);
  // The broker and the registry are up once the database's folder appears.
  await waitFor("the embedded PostgreSQL to start", () => existsSync(path.join(dev.dataDir, "pgdata")), { timeoutMs: 60_000, intervalMs: 5 });
  const code = await dev.stop();
  if (code !== 0) throw new Error(`ferry dev exited with ${code}, not 0:\n${dev.output().slice(-3000)}`);
  const aborted = await waitFor("dev:start-aborted", () => dev.lines.find((l) => l.event === "dev:start-aborted"), { timeoutMs: 5_000, intervalMs: 10 });
  expect(aborted).toMatchObject({ signal: "SIGINT" });
  expect(dev.lines.map((l) => l.event)).not.toContain("dev:ready");
  expect(existsSync(path.join(dev.dataDir, "dev.json"))).toBe(false);
});
