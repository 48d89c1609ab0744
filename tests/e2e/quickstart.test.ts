// The README's Quickstart, run as written: `scripts/quickstart.sh` (which installs what is missing,
// builds dist/ferry and runs `ferry dev`), then `dist/ferry produce --demo` from another shell.
// The example must reach the end state the README and the demo promise.
import { afterEach, expect, test } from "bun:test";
import postgres from "postgres";
import path from "node:path";
import { startDevProcess, type DevProcess } from "../support/dev-process.ts";
import { waitFor } from "../support/wait.ts";

const root = path.resolve(import.meta.dir, "../..");
let dev: DevProcess | undefined;
afterEach(() => dev?.cleanup());

test("scripts/quickstart.sh brings up ferry dev, and the demo ends with 10 orders, 3 skipped, 4 dead letters", async () => {
  dev = startDevProcess(["bash", "scripts/quickstart.sh"], { cwd: root });
  const ready = await dev.waitFor("dev:ready", (l) => l.event === "dev:ready", 600_000);
  expect(ready.handlers).toEqual([{ name: "order-totals", topics: ["orders"], format: "avro" }]);
  expect(ready.subjects).toEqual([{ subject: "orders-value", schema: "order-placed.avsc", version: 1 }]);

  const demo = Bun.spawnSync(["dist/ferry", "produce", "--demo", "--json"], {
    cwd: root,
    env: { PATH: process.env.PATH!, TMPDIR: process.env.TMPDIR ?? "/tmp", FERRY_DEV_DATA_DIR: dev.dataDir },
  });
  expect(demo.exitCode).toBe(0);
  const { expected } = JSON.parse(demo.stdout.toString()) as {
    expected: { applied: number; technicalDuplicates: number; deadLetters: Record<string, number> };
  };
  expect(expected).toEqual({ applied: 10, technicalDuplicates: 3, deadLetters: { "functional-duplicate": 2, "decode-failed": 1, permanent: 1 } });

  // The live tally reaches exactly the expected end state.
  const done = (l: { event: string; totals?: { applied: number; technicalDuplicates: number; deadLetters: Record<string, number> } }) =>
    l.event === "dev:tally" &&
    l.totals!.applied === 10 &&
    l.totals!.technicalDuplicates === 3 &&
    Object.values(l.totals!.deadLetters).reduce((a, b) => a + b, 0) === 4;
  const end = await dev.waitFor("the demo's end state", done as never, 60_000);
  expect(end.totals).toMatchObject({ applied: 10, technicalDuplicates: 3, functionalDuplicates: 2, deadLetters: expected.deadLetters });

  // The projection holds the 10 orders, through the embedded PostgreSQL's own address.
  const sql = postgres(String(ready.databaseUrl), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ orders: number; negative: number }[]>`
      select count(*)::int as orders, count(*) filter (where total_cents < 0)::int as negative from order_totals`;
    expect(row).toEqual({ orders: 10, negative: 0 });
  } finally {
    await sql.end();
  }

  // The admin API (the page's data) shows the dead letters with their reasons.
  const letters = await waitFor(
    "4 dead letters in the admin API",
    async () => {
      const body = (await (await fetch(`${ready.httpUrl}/api/handlers/order-totals/dead-letters`)).json()) as { deadLetters: Array<{ reason: string }> };
      return body.deadLetters.length === 4 ? body.deadLetters : null;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  expect(letters.map((l) => l.reason).sort()).toEqual(["decode-failed", "functional-duplicate", "functional-duplicate", "permanent"]);

  expect(await dev.stop()).toBe(0);
}, 900_000);
