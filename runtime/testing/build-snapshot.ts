/**
 * The PGlite snapshot scripts/build.ts puts in the binary: Ferry's migrations applied at build
 * time, so that even the first `ferry test` on a machine starts from a snapshot instead of
 * running initdb (5-10 s). `ferry test` writes it into the cache directory under its key.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { createLogger } from "../log/logger.ts";
import { migrationsKey, snapshotPath } from "./pglite-snapshot.ts";
import { createTestDatabase } from "./test-database.ts";

/**
 * Makes the snapshot in `dir` (kept there: a rebuild with the same migrations reuses it) and
 * writes it gzipped (15 MB → 2.5 MB of binary) to `out`. Returns its key.
 */
export async function writeBuildSnapshot(dir: string, out: string): Promise<string> {
  const ferryOnly = await collectMigrations(undefined);
  const key = migrationsKey(ferryOnly);
  const log = createLogger({ level: "warn" });
  const db = await createTestDatabase({ prepare: async (sql) => void (await migrate(sql, ferryOnly, log)), prepareKey: key, cacheDir: dir });
  await db.close();
  const snapshot = snapshotPath(dir, key);
  // Snapshots of older migrations or PGlite versions: nothing reads them any more.
  for (const file of await Array.fromAsync(new Bun.Glob("pglite-*.tar").scan(dir))) {
    if (path.join(dir, file) !== snapshot) await rm(path.join(dir, file));
  }
  await Bun.write(out, Bun.gzipSync(await Bun.file(snapshot).bytes()));
  return key;
}
