import { randomUUID } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type postgres from "postgres";
import { runFerry, startFerry, type FerryProcess } from "./ferry-process.ts";
import type { testKafka } from "./kafka.ts";
import type { testRegistry } from "./registry.ts";

const repoSchemas = path.resolve(import.meta.dir, "../../schemas");

/**
 * One Avro test's world, laid out as a project: <root>/schemas (the example order-placed.avdl,
 * topics.json binding this test's topic) and <root>/handlers (an Avro handler reading
 * ../schemas/order-placed.avsc, importing its generated types). Its topic's subject is deleted
 * from the registry after the run.
 */
export async function createAvroWorld(
  name: string,
  deps: { kafka: Awaited<ReturnType<typeof testKafka>>; sql: postgres.Sql; registry: ReturnType<typeof testRegistry> },
  { gate = "fail", readerSchema = "../schemas/order-placed.avsc" }: { gate?: string; readerSchema?: string } = {},
) {
  const id = randomUUID().slice(0, 8);
  const topic = await deps.kafka.createTopic(`avro-${name}`, 3);
  deps.registry.track(`${topic}-value`);
  const root = mkdtempSync(path.join(tmpdir(), "ferry-avro-"));
  const schemasDir = path.join(root, "schemas");
  const handlersDir = path.join(root, "handlers");
  mkdirSync(schemasDir);
  mkdirSync(path.join(handlersDir, "migrations"), { recursive: true });
  copyFileSync(path.join(repoSchemas, "order-placed.avdl"), path.join(schemasDir, "order-placed.avdl"));
  writeFileSync(path.join(schemasDir, "topics.json"), JSON.stringify({ [topic]: "order-placed.avsc" }));
  const table = `orders_${name.replace(/[^a-z0-9]/g, "_")}_${id}`;
  writeFileSync(
    path.join(handlersDir, "migrations", `0001_${table}.sql`),
    `create table ${table} (event_id text primary key, order_id text not null, total_cents bigint not null, currency text not null, payment text not null, items int not null, coupon text);`,
  );
  writeFileSync(
    path.join(handlersDir, "order-sink.ts"),
    `import { defineHandler } from "ferry";
import type { OrderPlaced } from "../schemas/order-placed.ts";

export default defineHandler<OrderPlaced>({
  topic: ${JSON.stringify(topic)},
  format: "avro",
  schema: ${JSON.stringify(readerSchema)},
  businessKey: (order) => order.orderId,
  async handle(order, ctx) {
    await ctx.sql\`insert into ${table} (event_id, order_id, total_cents, currency, payment, items, coupon)
      values (\${ctx.event.id}, \${order.orderId}, \${order.totalCents}, \${order.currency}, \${order.paymentMethod}, \${order.items.length}, \${order.couponCode})\`;
  },
});
`,
  );
  const env = { FERRY_SCHEMA_REGISTRY_URL: deps.registry.url, FERRY_SCHEMA_GATE: gate };
  const processes: FerryProcess[] = [];
  return {
    topic,
    table,
    root,
    schemasDir,
    handlersDir,
    groupPrefix: `avro-${id}`,
    /** `ferry schemas <args>` on this world's schemas directory. */
    schemas: (...args: string[]) => runFerry(["schemas", ...args, "--dir", schemasDir], env),
    produce: (args: string[]) => runFerry(["produce", "--topic", topic, "--schema", path.join(schemasDir, "order-placed.avsc"), ...args], env),
    start(extra: Record<string, string> = {}) {
      const p = startFerry(["run", "--handlers", handlersDir, "--group-prefix", `avro-${id}`], { ...env, ...extra });
      processes.push(p);
      return p;
    },
    rows: () =>
      deps.sql<
        Array<{ event_id: string; order_id: string; total_cents: string; currency: string; payment: string; items: number; coupon: string | null }>
      >`select * from ${deps.sql(table)} order by order_id`,
    cleanup() {
      for (const p of processes) if (p.proc.exitCode === null) p.proc.kill("SIGKILL");
    },
  };
}
