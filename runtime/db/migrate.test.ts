import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { FerryError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import { connectDatabase } from "./connect.ts";
import { migrate, type Migration } from "./migrate.ts";

const url = process.env.FERRY_TEST_DATABASE_URL;
const admin = url ? postgres(url, { max: 1, onnotice: () => {} }) : null;
const log = createLogger({ level: "error" });
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin!.unsafe(`drop database if exists ${name} with (force)`);
  await admin?.end();
});

/** A database of its own, so this test sees a migration history nobody else touches. */
async function freshDatabase(): Promise<string> {
  const name = `ferry_migrate_${randomUUID().slice(0, 8)}`;
  await admin!.unsafe(`create database ${name}`);
  created.push(name);
  return url!.replace(/\/[^/]*$/, `/${name}`);
}

test.skipIf(!url)("replicas migrating at the same time apply each migration exactly once", async () => {
  const dbUrl = await freshDatabase();
  const migrations: Migration[] = [
    { scope: "handlers", name: "0001_counter", sql: "create table counter (n int not null)" },
    { scope: "handlers", name: "0002_seed", sql: "insert into counter values (1)" },
  ];
  const pools = Array.from({ length: 4 }, () => connectDatabase(dbUrl, { poolSize: 2 }));
  try {
    const results = await Promise.all(pools.map((sql) => migrate(sql, migrations, log)));
    expect(results.flatMap((r) => r.applied).sort()).toEqual(["handlers/0001_counter", "handlers/0002_seed"]);
    const [row] = await pools[0]!<{ n: number }[]>`select count(*)::int as n from counter`;
    expect(row!.n).toBe(1);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test.skipIf(!url)("an applied migration whose text changed is refused; a failing one rolls back whole", async () => {
  const dbUrl = await freshDatabase();
  const sql = connectDatabase(dbUrl, { poolSize: 2 });
  try {
    await migrate(sql, [{ scope: "handlers", name: "0001_t", sql: "create table t (a int)" }], log);
    const changed = await migrate(sql, [{ scope: "handlers", name: "0001_t", sql: "create table t (a bigint)" }], log).catch((e) => e);
    expect(changed).toBeInstanceOf(FerryError);
    expect(changed.message).toContain("migration handlers/0001_t was changed after it was applied");
    const failing = await migrate(
      sql,
      [
        { scope: "handlers", name: "0001_t", sql: "create table t (a int)" },
        { scope: "handlers", name: "0002_bad", sql: "create table u (a int);\n--> statement-breakpoint\nselect nonsense from nowhere" },
      ],
      log,
    ).catch((e) => e);
    expect(failing.message).toContain("migration handlers/0002_bad failed");
    const [u] = await sql<{ n: number }[]>`select count(*)::int as n from pg_tables where tablename = 'u'`;
    expect(u!.n).toBe(0);
  } finally {
    await sql.end();
  }
});

test.skipIf(!url)("a stop signal cancels the wait for the lock another replica holds, and applies nothing", async () => {
  const dbUrl = await freshDatabase();
  const holder = postgres(dbUrl, { max: 1, onnotice: () => {} });
  const sql = connectDatabase(dbUrl, { poolSize: 2 });
  try {
    const held = await holder.reserve();
    await held`select pg_advisory_lock(${0x6665_7272})`;
    const stop = new AbortController();
    const waiting = migrate(sql, [{ scope: "handlers", name: "0001_t", sql: "create table t (a int)" }], log, { signal: stop.signal }).catch((e) => e);
    await waitForLockWaiter(dbUrl.slice(dbUrl.lastIndexOf("/") + 1));
    stop.abort("SIGTERM");
    expect((await waiting).code).toBe("57014"); // query_canceled
    const [t] = await held<{ n: number }[]>`select count(*)::int as n from pg_tables where tablename = 't'`;
    expect(t!.n).toBe(0);
    // The lock stayed the holder's; once it lets go, the same pool migrates.
    await held`select pg_advisory_unlock(${0x6665_7272})`;
    held.release();
    expect((await migrate(sql, [{ scope: "handlers", name: "0001_t", sql: "create table t (a int)" }], log)).applied).toEqual(["handlers/0001_t"]);
  } finally {
    await sql.end();
    await holder.end();
  }
});

/** Until a session of database `name` waits on an advisory lock (pg_locks shows every database's). */
async function waitForLockWaiter(name: string) {
  for (let i = 0; i < 120; i++) {
    const [row] = await admin!<{ n: number }[]>`select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
      where l.locktype = 'advisory' and not l.granted and d.datname = ${name}`;
    if (row!.n > 0) return;
    await Bun.sleep(25);
  }
  throw new Error(`no session of ${name} started waiting for the migration lock within 3 s`);
}
