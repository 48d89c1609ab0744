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
    await drizzleOver(tx, sql!).insert(docs).values({ id: "drizzle", doc: { a: 1, list: [1, 2] }, at });
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
