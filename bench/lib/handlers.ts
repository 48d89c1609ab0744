/**
 * The handlers under test, written the way a user would: `import { defineHandler } from "ferry"`,
 * business key = order id, one effect row per order (an `order_totals`-like projection with the
 * event's produce timestamp, so end-to-end latency can be read from the table).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { orderSchemaText } from "./avro.ts";

/**
 * `each`: `handle` with one awaited `ctx.sql` insert per event. `batch`: `handleBatch` with one
 * set-based insert per batch. `noop`: a `handleBatch` that writes nothing (Ferry's own inbox,
 * business keys and offsets only).
 */
export type HandlerKind = "each" | "batch" | "noop";

/** How values arrive: Avro in the registry's wire format (decoded by Ferry) or JSON text. */
export type ValueFormat = "avro" | "json";

/** The reader schema an Avro handler names, next to the handler file. */
const schemaFile = "bench-order.avsc";

export const effectsTableSql = (table: string) =>
  `create table ${table} (
  order_id text primary key,
  customer_id text not null,
  total_cents bigint not null,
  event_id text not null,
  produced_at timestamptz not null,
  applied_at timestamptz not null default clock_timestamp(),
  -- the chain's downstream step only: its upstream's publish → Kafka's leader appended the record
  relay_ms double precision
);`;

export function handlerSource(kind: HandlerKind, topic: string, table: string, format: ValueFormat = "json"): string {
  const head = `import { defineHandler } from "ferry";

interface Order { orderId: string; customerId: string; totalCents: number }

export default defineHandler<Order>({
  topic: ${JSON.stringify(topic)},
  ${
    format === "avro"
      ? `format: "avro",
  schema: "./${schemaFile}",
  `
      : ""
  }businessKey: (order) => order.orderId,
`;
  switch (kind) {
    case "each":
      return `${head}  async handle(order, ctx) {
    await ctx.sql\`insert into ${table} (order_id, customer_id, total_cents, event_id, produced_at)
      values (\${order.orderId}, \${order.customerId}, \${order.totalCents}, \${ctx.event.id}, to_timestamp(\${ctx.event.timestamp}::bigint / 1000.0))\`;
  },
});
`;
    case "batch":
      return `${head}  async handleBatch(items, ctx) {
    await ctx.sql\`insert into ${table} (order_id, customer_id, total_cents, event_id, produced_at)
      select o, c, t, e, to_timestamp(ms / 1000.0)
      from unnest(\${items.map((i) => i.value.orderId)}::text[], \${items.map((i) => i.value.customerId)}::text[],
                  \${items.map((i) => i.value.totalCents)}::bigint[], \${items.map((i) => i.event.id)}::text[],
                  \${items.map((i) => i.event.timestamp)}::bigint[]) as u(o, c, t, e, ms)\`;
  },
});
`;
    case "noop":
      return `${head}  async handleBatch() {},
});
`;
  }
}

/** A handlers directory holding one handler file (named `name`) and the reader schema, far from any node_modules. */
export function writeHandlerDir(name: string, source: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-bench-handlers-"));
  writeFileSync(path.join(dir, `${name}.ts`), source);
  writeFileSync(path.join(dir, schemaFile), orderSchemaText);
  return dir;
}

/** A directory with only migrations: `ferry migrate` on it creates every effects table up front. */
export function writeMigrationsDir(tables: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-bench-migrations-"));
  mkdirSync(path.join(dir, "migrations"));
  for (const [i, t] of tables.entries()) writeFileSync(path.join(dir, "migrations", `${String(i + 1).padStart(4, "0")}_${t}.sql`), effectsTableSql(t));
  return dir;
}
