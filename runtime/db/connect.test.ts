import { afterAll, expect, test } from "bun:test";
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
  "connections terminated again and again under load never stall a query for connect_timeout",
  async () => {
    const name = `ferry-terminate-${Date.now()}`;
    const pool = (await import("postgres")).default(url!, { max: 4, onnotice: () => {}, connection: { application_name: name } });
    let stop = false;
    let slowest = 0;
    const lane = async () => {
      while (!stop) {
        const started = performance.now();
        await pool
          .begin(async (tx) => {
            await tx`select 1`;
            await tx`select pg_sleep(0.005)`;
          })
          .catch(() => undefined); // a terminated connection fails its transaction: expected
        slowest = Math.max(slowest, performance.now() - started);
      }
    };
    const lanes = [lane(), lane(), lane(), lane()];
    for (let round = 0; round < 20; round++) {
      await Bun.sleep(150);
      await sql!`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name}`;
    }
    stop = true;
    await Promise.all(lanes);
    await pool.end({ timeout: 1 });
    expect(slowest).toBeLessThan(5_000);
  },
  60_000,
);
