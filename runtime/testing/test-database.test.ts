import { afterAll, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { snapshotPath } from "./pglite-snapshot.ts";
import { createTestDatabase } from "./test-database.ts";

const cacheDir = mkdtempSync(path.join(tmpdir(), "ferry-test-database-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const prepareKey = "snapshot-test";
const prepare = async (sql: import("postgres").Sql) => void (await sql`create table if not exists prepared (id int primary key)`);
const snapshot = snapshotPath(cacheDir, prepareKey);

async function tablesOf() {
  const db = await createTestDatabase({ prepare, prepareKey, cacheDir });
  try {
    const rows = await db.sql<{ datname: string }[]>`select datname from pg_database order by datname`;
    const prepared = await db.sql`select to_regclass('prepared') is not null as exists`;
    // PostgreSQL zeroes its buffer pool at start: PGlite's default 128 MB doubled a harness start.
    expect([...(await db.sql`show shared_buffers`)]).toEqual([{ shared_buffers: "8MB" }]);
    return { databases: rows.map((r) => r.datname), prepared: prepared[0]!.exists as boolean };
  } finally {
    await db.close();
  }
}

test("makes the snapshot once and starts later databases from it, without the template databases", async () => {
  expect(await tablesOf()).toEqual({ databases: ["postgres"], prepared: true });
  const made = statSync(snapshot);
  expect(made.size).toBeLessThan(20 * 1024 * 1024);
  expect(await tablesOf()).toEqual({ databases: ["postgres"], prepared: true });
  expect(statSync(snapshot).mtimeMs).toBe(made.mtimeMs);
}, 120_000);

test.each([
  ["truncated", () => truncateSync(snapshot, 100_000)],
  ["overwritten", () => writeFileSync(snapshot, "not a tar")],
])(
  "a %s snapshot is removed with a line naming it and made again",
  async (_, damage) => {
    await tablesOf();
    damage();
    const errors = spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await tablesOf()).toEqual({ databases: ["postgres"], prepared: true });
      expect(errors.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining(`the cached PGlite snapshot ${snapshot} cannot be started`)]);
    } finally {
      errors.mockRestore();
    }
    expect(statSync(snapshot).size).toBeGreaterThan(1_000_000);
  },
  120_000,
);
