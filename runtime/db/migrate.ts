import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ReservedSql, Sql } from "postgres";
import { FerryError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { ferryMigrations } from "./migrations.generated.ts";

export interface Migration {
  scope: "ferry" | "handlers";
  name: string;
  sql: string;
}

// Any constant works; it only has to be the same for every Ferry process on this database.
const MIGRATION_LOCK_KEY = 0x6665_7272; // "ferr"

/**
 * Applies pending migrations under an advisory lock, so replicas starting together never race.
 * Each migration runs in its own transaction with its bookkeeping row. A migration already
 * applied whose text changed is refused: shipped migrations are immutable.
 */
export async function migrate(sql: Sql, migrations: Migration[], log: Logger, { signal }: { signal?: AbortSignal } = {}): Promise<{ applied: string[] }> {
  const reserved = await sql.reserve();
  let locked = false;
  try {
    await waitForLock(reserved, signal);
    locked = true;
    await reserved.unsafe(`create table if not exists ferry_migrations (
      scope text not null, name text not null, checksum text not null,
      applied_at timestamptz not null default now(), primary key (scope, name))`);
    const rows = await reserved<{ scope: string; name: string; checksum: string }[]>`select scope, name, checksum from ferry_migrations`;
    const done = new Map(rows.map((r) => [`${r.scope}/${r.name}`, r.checksum]));
    const applied: string[] = [];
    for (const m of migrations) {
      const id = `${m.scope}/${m.name}`;
      const checksum = createHash("sha256").update(m.sql).digest("hex");
      const previous = done.get(id);
      if (previous !== undefined) {
        if (previous !== checksum) {
          throw new FerryError(`migration ${id} was changed after it was applied; add a new migration file instead of editing an applied one`);
        }
        continue;
      }
      // The advisory lock lives on `reserved`; the migration's own transaction may use any pooled connection.
      await sql
        .begin(async (tx) => {
          for (const statement of splitStatements(m.sql)) await tx.unsafe(statement).simple();
          await tx`insert into ferry_migrations (scope, name, checksum) values (${m.scope}, ${m.name}, ${checksum})`;
        })
        .catch((e: unknown) => {
          throw new FerryError(`migration ${id} failed: ${(e as Error).message}`, { cause: e });
        });
      log.info("migration:applied", { migration: id });
      applied.push(id);
    }
    return { applied };
  } finally {
    if (locked) await reserved`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
    reserved.release();
  }
}

/**
 * Takes the migration lock. The wait has no end of its own (another replica may be running a long
 * migration), so a stop signal cancels it: the query fails and the start-up unwinds.
 */
async function waitForLock(reserved: ReservedSql, signal: AbortSignal | undefined): Promise<void> {
  const lock = reserved`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
  const cancel = () => void lock.cancel();
  if (signal?.aborted) cancel();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    await lock;
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}

/** drizzle-kit separates statements with this marker; hand-written files may hold several statements. */
function splitStatements(text: string): string[] {
  return text
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Ferry's own migrations (embedded in the binary) followed by the handlers directory's `migrations/*.sql`. */
export async function collectMigrations(handlersDir: string | undefined): Promise<Migration[]> {
  const list: Migration[] = ferryMigrations.map((m) => ({ scope: "ferry", name: m.name, sql: m.sql }));
  if (!handlersDir) return list;
  const dir = path.join(handlersDir, "migrations");
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const file of files.filter((f) => f.endsWith(".sql")).sort()) {
    list.push({ scope: "handlers", name: file.replace(/\.sql$/, ""), sql: await readFile(path.join(dir, file), "utf8") });
  }
  return list;
}
