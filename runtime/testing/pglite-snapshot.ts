/**
 * The snapshot a PGlite harness starts from: the data directory after initdb and Ferry's
 * migrations, dumped once and kept in the cache directory. Each harness start reads and copies
 * all of it, so it is made small: 1 MB WAL segments instead of 16 (initdb's default, written out
 * in full), no template databases, a checkpoint before the dump. 40 MB became ~15 MB.
 */
import type { PGlite } from "@electric-sql/pglite";
import { createHash } from "node:crypto";
import path from "node:path";
import type { Migration } from "../db/migrate.ts";
import pglitePackage from "../../node_modules/@electric-sql/pglite/package.json" with { type: "json" };
import { snapshotStatements } from "../db/sql/test-snapshot.ts";

/** Bumped when what a snapshot holds changes: an older one is then not read, but made again. */
const snapshotFormat = 2;

/** initdb's arguments for a database that becomes a snapshot. */
export const snapshotInitdbArgs = ["--wal-segsize=1"];

/**
 * A harness's server settings. PostgreSQL zeroes its buffer pool at start: PGlite's 128 MB of it
 * (16384 buffers) were half of a harness start's CPU time, in page faults. The pool caches pages of
 * files that are in memory already; a test's data fits in 8 MB, and more only costs copies.
 */
export const harnessSettings = { shared_buffers: "8MB" };

/** Identifies Ferry's migrations (the harness's `prepare`): a snapshot is reused only under the same key. */
export function migrationsKey(ferryMigrations: Migration[]): string {
  return createHash("sha256").update(JSON.stringify(ferryMigrations)).digest("hex").slice(0, 16);
}

/** Where the snapshot for this PGlite version and these migrations (`prepareKey`) lives. */
export function snapshotPath(cacheDir: string, prepareKey: string): string {
  return path.join(cacheDir, `pglite-${pglitePackage.version}-${prepareKey}-s${snapshotFormat}.tar`);
}

/** Shrinks the prepared database to what a harness needs and dumps it (an uncompressed tar). */
export async function dumpSnapshot(db: PGlite): Promise<Blob> {
  for (const statement of snapshotStatements) await db.exec(statement);
  return await db.dumpDataDir("none");
}
