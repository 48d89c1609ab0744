/**
 * Ferry behind a real PgBouncer: in transaction mode (each transaction on whichever server
 * connection is free) its session advisory locks, LISTEN and prepared statements would work while
 * the pool is quiet and break under load, so the worker refuses to start and says what to change;
 * in session mode it runs (runtime/db/session-check.ts).
 */
import { afterAll, expect, test } from "bun:test";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { startPgBouncer } from "../support/pgbouncer.ts";
import { testServices } from "../support/env.ts";

const dir = writeHandlersDir({
  "noop.ts": `import { defineHandler } from "ferry";\nexport default defineHandler({ topic: "pooler-never-produced", async handleBatch() {} });\n`,
});
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

test("through PgBouncer in transaction mode ferry run refuses to start, naming the pooler and the mode it needs", async () => {
  const bouncer = await startPgBouncer("transaction", testServices().databaseUrl);
  stops.push(() => bouncer.stop());
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", "pooler-tx"], { FERRY_DATABASE_URL: bouncer.through(testServices().databaseUrl) });
  expect(await worker.exited).toBe(2);
  const said = worker.output();
  expect(said).toContain("reaches PostgreSQL through a pooler that moves sessions between transactions");
  expect(said).toContain("pool_mode = session");
  expect(worker.logs.some((l) => l.msg === "migration:applied" || l.msg === "engine:running")).toBe(false);
});

test("through PgBouncer in session mode it runs", async () => {
  const bouncer = await startPgBouncer("session", testServices().databaseUrl);
  stops.push(() => bouncer.stop());
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", "pooler-session"], {
    FERRY_DATABASE_URL: bouncer.through(testServices().databaseUrl),
  });
  await worker.waitForLog("engine:running");
  worker.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
});
