import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.ts";

let pg: EmbeddedPostgres;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "ferry-pglite-"));
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, "pgdata") });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  await sql`create table counters (id int primary key, n int not null)`;
  await sql.end();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("concurrent connections each see their own statements and transactions", async () => {
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  try {
    // Extended-protocol queries of several connections at once: each gets its own result back.
    const echoes = await Promise.all(Array.from({ length: 40 }, (_, i) => sql<{ i: number }[]>`select ${i}::int as i`));
    expect(echoes.map((r) => r[0]!.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // Transactions on different connections do not see each other's uncommitted rows, and all commit.
    await Promise.all(
      Array.from({ length: 8 }, (_, id) =>
        sql.begin(async (tx) => {
          await tx`insert into counters values (${id}, 0)`;
          for (let k = 0; k < 5; k++) await tx`update counters set n = n + 1 where id = ${id}`;
        }),
      ),
    );
    const rows = await sql<{ total: number }[]>`select sum(n)::int as total, count(*)::int as c from counters`;
    expect(rows[0]!.total).toBe(40);
    // A failing transaction rolls back and leaves the session usable for the others.
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into counters values (100, 1)`;
        await tx`insert into counters values (100, 1)`;
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect((await sql`select 1 from counters where id = 100`).length).toBe(0);
  } finally {
    await sql.end();
  }
});

test("another connection's statement never lands inside a transaction that rolls back", async () => {
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  try {
    const failing = sql
      .begin(async (tx) => {
        await tx`insert into counters values (300, 1)`;
        await Bun.sleep(100); // the other connection's insert arrives meanwhile
        throw new Error("roll back");
      })
      .then(
        () => "committed",
        (e: Error) => e.message,
      );
    await Bun.sleep(20);
    await sql`insert into counters values (301, 1)`;
    expect(await failing).toBe("roll back");
    const ids = (await sql<{ id: number }[]>`select id from counters where id in (300, 301)`).map((r) => r.id);
    expect(ids).toEqual([301]);
  } finally {
    await sql.end();
  }
});

test("a client that disconnects inside a transaction leaves nothing behind", async () => {
  const first = postgres(pg.url, { max: 1, onnotice: () => {} });
  const reserved = await first.reserve();
  await reserved`begin`;
  await reserved`insert into counters values (200, 1)`;
  await first.end({ timeout: 0 });
  const second = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    expect((await second`select 1 from counters where id = 200`).length).toBe(0);
    expect((await second`select 1 as ok`)[0]!.ok).toBe(1);
  } finally {
    await second.end();
  }
});
