import { afterAll, expect, test } from "bun:test";
import type postgres from "postgres";
import { randomUUID } from "node:crypto";
import { connectDatabase } from "../db/connect.ts";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { createLogger } from "../log/logger.ts";
import { pruneInbox } from "./prune.ts";

const url = process.env.FERRY_TEST_DATABASE_URL;
const sql = url ? connectDatabase(url, { poolSize: 3 }) : (null as unknown as postgres.Sql);
afterAll(() => sql?.end());

test.skipIf(!url)("prunes inbox rows older than the retention, keeps newer ones and all business keys", async () => {
  await migrate(sql, await collectMigrations(undefined), createLogger({ level: "error" }));
  const handler = `prune-${randomUUID()}`;
  const row = (id: string, hoursAgo: number) => sql`insert into ferry_inbox (handler, event_id, topic, partition, "offset", outcome, received_at)
    values (${handler}, ${id}, 't', 0, 0, 'applied', now() - make_interval(hours => ${hoursAgo}))`;
  for (let i = 0; i < 12; i++) await row(`old-${i}`, 400);
  await row("fresh", 1);
  await sql`insert into ferry_business_keys (handler, business_key, event_id) values (${handler}, 'k', 'old-0')`;
  // Other handlers' rows of other tests may be pruned too: count only ours.
  await pruneInbox(sql, 336);
  const left = await sql<{ event_id: string }[]>`select event_id from ferry_inbox where handler = ${handler}`;
  expect(left.map((r) => r.event_id)).toEqual(["fresh"]);
  const [keys] = await sql<{ n: number }[]>`select count(*)::int as n from ferry_business_keys where handler = ${handler}`;
  expect(keys!.n).toBe(1);
});
