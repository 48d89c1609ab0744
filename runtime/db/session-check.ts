/**
 * Ferry needs PostgreSQL sessions that stay with their client connection (README, "Connection
 * poolers"): session advisory locks (migrations, the outbox relay's turn), LISTEN, named prepared
 * statements. A pooler in transaction mode (PgBouncer `pool_mode = transaction`) hands each
 * transaction to whichever server connection is free, so those work while the pool is quiet and
 * break under load: a migration lock taken on one server connection and released on another is
 * held for good, and every later start waits on it. Checked once at start, so it fails at once
 * with the reason instead.
 *
 * Two client connections: the first asks for its backend, the second opens a transaction and asks
 * for its own, and the first asks again. Directly or through a session pooler a connection keeps
 * its backend and two connections never share one; under transaction pooling the second gets the
 * backend the first just released (PgBouncer reuses the most recent), or the first moves.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { DatabaseConnection } from "../config/database-settings.ts";
import { ConfigError } from "../errors.ts";
import { connectDatabase } from "./connect.ts";

/** How long the first connection may take to answer while the second holds a transaction open. */
const ANSWER_WITHIN_MS = 5_000;

export interface BackendsSeen {
  /** The first connection's backend, before and after the second connection's transaction began (NaN: no answer while it was open). */
  before: number;
  after: number;
  /** The second connection's backend, inside its transaction. */
  other: number;
}

/** Pure: whether the backends seen can only come from a pooler that moves sessions between transactions. */
export function sessionsMove({ before, after, other }: BackendsSeen): boolean {
  return other === before || after !== before;
}

export async function backendsSeen(database: Pick<DatabaseConnection, "url" | "sslMode" | "tls">): Promise<BackendsSeen> {
  // A client of its own, never the engine's pool (whose size may be 1); simple queries, no prepared statements.
  const sql = connectDatabase(database, { poolSize: 2 });
  try {
    const first = await sql.reserve();
    const second = await sql.reserve();
    try {
      const pid = async (conn: typeof first) => Number((await conn.unsafe("select pg_backend_pid() as pid"))[0]!.pid);
      const before = await pid(first);
      await second.unsafe("begin");
      const other = await pid(second);
      const asking = pid(first);
      // Directly, the first answers at once. A pooler with one server connection, held by the second's
      // transaction, has none to give it until the rollback: no answer meanwhile is a moved session too.
      const after = await Promise.race([asking, sleep(ANSWER_WITHIN_MS).then(() => Number.NaN)]);
      await second.unsafe("rollback");
      await asking;
      return { before, after, other };
    } finally {
      first.release();
      second.release();
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function assertSessionsKept(database: DatabaseConnection): Promise<void> {
  const seen = await backendsSeen(database);
  if (!sessionsMove(seen)) return;
  throw new ConfigError([
    `FERRY_DATABASE_URL (${database.address}) reaches PostgreSQL through a pooler that moves sessions between transactions (PgBouncer's pool_mode = transaction or statement: two client connections were served by backends ${seen.before}, ${seen.other} and ${Number.isNaN(seen.after) ? `none within ${ANSWER_WITHIN_MS} ms` : seen.after}); Ferry needs sessions that stay with their connection (advisory locks, LISTEN, prepared statements): connect it to PostgreSQL directly or through PgBouncer with pool_mode = session`,
  ]);
}
