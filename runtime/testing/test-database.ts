/**
 * A fresh database for one harness: PGlite in memory, in this process (the embedded PostgreSQL
 * `ferry dev` serves), or a database created for it on a real server (FERRY_TEST_DATABASE_URL)
 * and dropped afterwards. Either way the engine talks to it through postgres.js, as `ferry run` does.
 *
 * PGlite's initdb costs seconds: the first harness dumps its database once `prepare` (Ferry's own
 * migrations) has run, into the cache directory under a key of PGlite's version and `prepareKey`;
 * later ones, in any process, start from that snapshot (pglite-snapshot.ts). One that cannot be
 * started is made again, never a test's failure.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Sql } from "postgres";
import { connectDatabase } from "../db/connect.ts";
import { compilePglite, type EmbeddedPostgres, startEmbeddedPostgres } from "../dev/embedded-postgres.ts";
import { coerceError } from "../errors.ts";
import { dumpSnapshot, harnessSettings, snapshotInitdbArgs, snapshotPath } from "./pglite-snapshot.ts";
import { readSnapshotTar } from "./snapshot-tar.ts";

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
  // Reading the snapshot overlaps the compile.
  compilePglite();
  const snapshot = snapshotPath(cacheDir, prepareKey);
  const embedded = existsSync(snapshot) ? await startFromSnapshot(snapshot) : undefined;
  return embedded ? connect(embedded, prepare) : makeSnapshot(snapshot, prepare);
}

/**
 * PGlite started from the cached snapshot; undefined when it cannot be (a truncated or damaged
 * file): the snapshot is then removed, with a line saying so, and made again by the caller.
 */
async function startFromSnapshot(snapshot: string): Promise<EmbeddedPostgres | undefined> {
  try {
    const dataDirEntries = readSnapshotTar(new Uint8Array(await Bun.file(snapshot).arrayBuffer()));
    return await startEmbeddedPostgres({ dataDirEntries, settings: harnessSettings });
  } catch (e) {
    console.error(`ferry/testing: the cached PGlite snapshot ${snapshot} cannot be started (${coerceError(e).message}); removing it and making it again`);
    await rm(snapshot, { force: true });
    return undefined;
  }
}

/** The first harness with these migrations: initdb, `prepare`, then the snapshot later ones start from. */
async function makeSnapshot(snapshot: string, prepare: TestDatabaseOptions["prepare"]): Promise<TestDatabase> {
  const embedded = await startEmbeddedPostgres({ initdbArgs: snapshotInitdbArgs, settings: harnessSettings });
  return connect(embedded, prepare, async () => {
    await mkdir(path.dirname(snapshot), { recursive: true });
    // Written aside and renamed: a harness of another test file never reads half a snapshot.
    const partial = `${snapshot}.${randomBytes(4).toString("hex")}.partial`;
    await Bun.write(partial, await dumpSnapshot(embedded.db));
    await rename(partial, snapshot);
  });
}

/** postgres.js on the embedded database, once `prepare` (and `afterPrepare`) ran; stopped if either fails. */
async function connect(embedded: EmbeddedPostgres, prepare: TestDatabaseOptions["prepare"], afterPrepare?: () => Promise<void>): Promise<TestDatabase> {
  // PGlite is one session: more connections would only queue behind each other.
  const sql = connectDatabase(embedded.url, { poolSize: 2 });
  const close = async () => {
    await sql.end({ timeout: 1 });
    await embedded.stop();
  };
  try {
    await prepare(sql);
    await afterPrepare?.();
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
