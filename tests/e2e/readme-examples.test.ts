/**
 * The README's `handleBatch` example, run as written (only its topic and table renamed) in the
 * compiled binary: a `long` near the edge of what Ferry decodes must go through its SQL, which
 * casts it to `bigint[]` (an `int[]` cast dead-lettered such an order as `exhausted`).
 */
import { expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startFerry } from "../support/ferry-process.ts";
import { writeHandlersDir } from "../support/handlers.ts";
import { useScenarios } from "../support/suite.ts";
import { waitFor } from "../support/wait.ts";

const suite = useScenarios();
const { sql } = suite;

/** The README's first ```ts block that writes `handleBatch`. */
function readmeBatchExample(): string {
  const readme = readFileSync(path.resolve(import.meta.dir, "../../README.md"), "utf8");
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("async handleBatch("));
  if (!block) throw new Error("README.md has no ```ts block with a handleBatch example");
  return block;
}

test("the README's handleBatch example stores totals up to 9,007,199,254,740,990 and down to -2^52", async () => {
  const id = randomUUID().slice(0, 8);
  const topic = await suite.kafka().createTopic("readme-batch", 1);
  const table = `order_totals_${id}`;
  const example = readmeBatchExample();
  expect(example).toContain("::bigint[]");
  const handler = `import { defineHandler } from "ferry";\ninterface OrderPlaced { orderId: string; totalCents: number }\n${example
    .replace('topic: "orders"', `topic: ${JSON.stringify(topic)}`)
    .replace("insert into order_totals", `insert into ${table}`)}`;
  const dir = writeHandlersDir(
    { "order-totals.ts": handler },
    { [`0001_${table}.sql`]: `create table ${table} (order_id text primary key, total_cents bigint not null);` },
  );
  const totals = { [`${id}-max`]: 9_007_199_254_740_990, [`${id}-small`]: 1250, [`${id}-min`]: -(2 ** 52) };
  await suite.kafka().send(
    Object.entries(totals).map(([orderId, totalCents]) => ({
      topic,
      key: orderId,
      value: JSON.stringify({ orderId, totalCents }),
      headers: { "event-id": orderId },
    })),
  );
  const worker = startFerry(["run", "--handlers", dir, "--group-prefix", `readme-${id}`]);
  try {
    const rows = await waitFor(
      "the three orders in the table",
      async () => {
        const found = await sql<{ order_id: string; total: string }[]>`select order_id, total_cents::text as total from ${sql(table)} order by order_id`;
        return found.length === 3 ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect([...rows]).toEqual(
      Object.entries(totals)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([orderId, total]) => ({ order_id: orderId, total: String(total) })),
    );
    expect(worker.logs.filter((l) => l.msg === "event:dead-lettering")).toEqual([]);
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.exited;
    await sql.unsafe(`drop table if exists ${table}`);
  }
});

test("why int[] was wrong: PostgreSQL refuses 9,007,199,254,740,990 as an int", async () => {
  expect(sql`select ${[9_007_199_254_740_990]}::int[]`.then(() => "accepted")).rejects.toThrow("out of range for type integer");
  const [row] = await sql<{ v: string }[]>`select (${[9_007_199_254_740_990]}::bigint[])[1]::text as v`;
  expect(row!.v).toBe("9007199254740990");
});
