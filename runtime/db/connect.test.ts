import { afterAll, expect, test } from "bun:test";
import path from "node:path";
import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { connectDatabase, drizzleOver } from "./connect.ts";

const url = process.env.FERRY_TEST_DATABASE_URL;
const sql = url ? connectDatabase(url, { poolSize: 2 }) : null;
afterAll(() => sql?.end());

test.skipIf(!url)("raw SQL and Drizzle share a transaction without changing each other's types", async () => {
  const table = `docs_${Date.now()}`;
  const docs = pgTable(table, { id: text("id").primaryKey(), doc: jsonb("doc"), at: timestamp("at", { withTimezone: true }) });
  await sql!.unsafe(`create table ${table} (id text primary key, doc jsonb, at timestamptz)`);
  const at = new Date("2026-11-23T10:00:00.000Z");
  await sql!.begin(async (tx) => {
    await drizzleOver(tx, sql!)
      .insert(docs)
      .values({ id: "drizzle", doc: { a: 1, list: [1, 2] }, at });
    await tx`insert into ${tx(table)} (id, doc, at) values ('raw', ${{ b: [true] } as never}, ${at})`;
  });
  const rows = await sql!<{ id: string; doc: unknown; at: Date }[]>`select id, doc, at from ${sql!(table)} order by id`;
  expect([...rows]).toEqual([
    { id: "drizzle", doc: { a: 1, list: [1, 2] }, at },
    { id: "raw", doc: { b: [true] }, at },
  ]);
  const [viaDrizzle] = await sql!.begin((tx) => drizzleOver(tx, sql!).select().from(docs).limit(1));
  expect(viaDrizzle).toEqual({ id: "drizzle", doc: { a: 1, list: [1, 2] }, at });
  await sql!.unsafe(`drop table ${table}`);
});

// postgres.js 3.4.9 left a cleared write timer in place when a connection closed: the next
// connection's startup message was never sent and its queries hung until connect_timeout (30 s),
// and a write could fire on the dead socket from a timer. patches/postgres@3.4.9.patch fixes both;
// found by the fault suite's pg_terminate_backend scenario (docs/reliability.md).
test.skipIf(!url)(
  "connections terminated again and again under load never stall a query for connect_timeout, and the worker's guard survives the driver's strays",
  async () => {
    const child = Bun.spawn([process.execPath, path.join(import.meta.dir, "terminate-loop.fixture.ts"), url!], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) console.error(err.slice(-3_000));
    expect(code).toBe(0);
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as { slowest: number; abandoned: number; unguarded: unknown[]; strays: number };
    if (result.abandoned > 0) console.warn(`terminate loop: ${result.abandoned} transaction(s) never settled and were given up, as the worker's deadline does`);
    // The bug this guards against held every query of a new connection for connect_timeout (30 s).
    expect(result.slowest).toBeLessThan(15_000);
    // Only connection-level failures of the driver's own promises, logged and survived.
    expect(result.unguarded).toEqual([]);
  },
  120_000,
);

// postgres.js, a transaction whose connection the server ended: its next query moved the connection
// out of the closed queue into the full one, and the queries after it waited for a drain that never
// came. They never settled (a unit of work waited for its deadline) and the pool lost the connection
// for good: with one connection, every later query hung. patches/postgres@3.4.9.patch rejects them.
test.skipIf(!url)(
  "a transaction whose connection is terminated fails its next queries at once, and the pool gets its connection back",
  async () => {
    const pool = connectDatabase(url!, { poolSize: 1 });
    const killer = connectDatabase(url!, { poolSize: 1 });
    const failed: string[] = [];
    // The transaction's promise fails as soon as the close reaches the driver; its function goes on.
    let inner: Promise<unknown> = Promise.resolve();
    const settled = (q: Promise<unknown>) =>
      q.then(
        () => failed.push("none"),
        (e: { code?: string }) => failed.push(e.code ?? "?"),
      );
    try {
      const outcome = await pool
        .begin((tx) => {
          inner = (async () => {
            const [backend] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
            await killer`select pg_terminate_backend(${backend!.pid})`;
            await Bun.sleep(300); // the close reaches the driver
            await Promise.all([settled(tx`select ${"x".repeat(2_000)}::text as padding`), settled(tx`select 1 as one`)]);
          })();
          return inner;
        })
        .then(
          () => "committed",
          (e: { code?: string }) => e.code,
        );
      expect(outcome).toMatch(/CONNECTION_CLOSED|57P01/);
      await Promise.race([inner.catch(() => undefined), Bun.sleep(5_000)]);
      expect(failed).toEqual(["CONNECTION_CLOSED", "CONNECTION_CLOSED"]);
      // The only connection of the pool is usable again (it reconnects).
      const answer = await Promise.race([pool<{ one: number }[]>`select 1 as one`.then(([row]) => row!.one), Bun.sleep(5_000).then(() => "hung")]);
      expect(answer).toBe(1);
    } finally {
      await killer.end();
      await pool.end({ timeout: 1 });
    }
  },
  30_000,
);

// The same for a reserved connection (the outbox relay's turn): a query queued behind a full pipeline
// when the server ended the session waited for good.
test.skipIf(!url)(
  "a reserved connection terminated with queries queued fails them all at once",
  async () => {
    const pool = connectDatabase(url!, { poolSize: 2 });
    const killer = connectDatabase(url!, { poolSize: 1 });
    try {
      const conn = await pool.reserve();
      const [backend] = await conn<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await killer`select pg_terminate_backend(${backend!.pid})`;
      // Statements never seen before are described first: the first fills the pipeline, the second queues.
      const outcomes = ["first", "second"].map((name) =>
        conn`select ${name}::text as name, ${Date.now()}::bigint as at`.then(
          () => "answered",
          (e: { code?: string }) => e.code ?? "?",
        ),
      );
      const settled = await Promise.race([Promise.all(outcomes), Bun.sleep(5_000).then(() => ["hung"])]);
      expect(settled).toEqual([expect.stringMatching(/CONNECTION_CLOSED|57P01|ECONNRESET/), expect.stringMatching(/CONNECTION_CLOSED|57P01|ECONNRESET/)]);
      conn.release();
    } finally {
      await killer.end();
      await pool.end({ timeout: 1 });
    }
  },
  30_000,
);
