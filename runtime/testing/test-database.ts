/**
 * A fresh database for one harness: PGlite in memory, in this process (the embedded PostgreSQL
 * `ferry dev` serves), or a database created for it on a real server (FERRY_TEST_DATABASE_URL)
 * and dropped afterwards. Either way the engine talks to it through postgres.js, as `ferry run` does.
 *
 * PGlite's initdb costs seconds: the first harness dumps its database once `prepare` (Ferry's own
 * migrations) has run, into the cache directory under a key of PGlite's version and `prepareKey`;
 * later ones, in any process, start from that dump.
 */
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Sql } from "postgres";
import { connectDatabase } from "../db/connect.ts";
import { startEmbeddedPostgres } from "../dev/embedded-postgres.ts";
import pglitePackage from "../../node_modules/@electric-sql/pglite/package.json" with { type: "json" };

export interface TestDatabase {
  sql: Sql;
  url: string;
  kind: "pglite" | "postgres";
  close(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** A PostgreSQL server to create the database on; absent: PGlite in memory. */
  serverUrl?: string;
  /** Runs on the new database before the harness uses it (Ferry's migrations); its result is what the PGlite dump holds. */
  prepare(sql: Sql): Promise<void>;
  /** Identifies what `prepare` does (a hash of the migrations): a dump is reused only under the same key. */
  prepareKey: string;
  cacheDir: string;
}

export async function createTestDatabase(options: TestDatabaseOptions): Promise<TestDatabase> {
  return options.serverUrl === undefined ? createPglite(options) : createOnServer(options.serverUrl, options);
}

async function createPglite({ prepare, prepareKey, cacheDir }: TestDatabaseOptions): Promise<TestDatabase> {
  const dump = path.join(cacheDir, `pglite-${pglitePackage.version}-${prepareKey}.tar`);
  const cached = existsSync(dump);
  const embedded = await startEmbeddedPostgres(cached ? { loadDataDir: Bun.file(dump) } : {});
  // PGlite is one session: more connections would only queue behind each other.
  const sql = connectDatabase(embedded.url, { poolSize: 2 });
  const close = async () => {
    await sql.end({ timeout: 1 });
    await embedded.stop();
  };
  try {
    await prepare(sql);
    if (!cached) {
      await mkdir(cacheDir, { recursive: true });
      // Written aside and renamed: a harness of another test file never reads half a dump.
      const partial = `${dump}.${randomBytes(4).toString("hex")}.partial`;
      await Bun.write(partial, await embedded.db.dumpDataDir("none"));
      await rename(partial, dump);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { sql, url: embedded.url, kind: "pglite", close };
}

async function createOnServer(serverUrl: string, { prepare }: TestDatabaseOptions): Promise<TestDatabase> {
  const name = `ferry_test_${randomBytes(6).toString("hex")}`;
  const admin = connectDatabase(serverUrl, { poolSize: 1 });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = connectDatabase(url.toString(), { poolSize: 4 });
  const close = async () => {
    await sql.end({ timeout: 1 });
    const dropper = connectDatabase(serverUrl, { poolSize: 1 });
    try {
      await dropper.unsafe(`drop database if exists ${name} with (force)`);
    } finally {
      await dropper.end({ timeout: 1 });
    }
  };
  try {
    await prepare(sql);
  } catch (e) {
    await close();
    throw e;
  }
  return { sql, url: url.toString(), kind: "postgres", close };
}
