/**
 * The chain scenario: orders → `<name>_up` (handleBatch publishing one event per order through
 * ctx.publish) → the intermediate topic → `<name>_down` (handleBatch, one set-based insert), both
 * in one worker. Its drain ends when every order has its effect row downstream; the relay's own
 * latency is read from the outbox (publish → Kafka's acknowledgement, database clock).
 */
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { measureProgress, startFerry, type Drain } from "./ferry.ts";
import { handlerSource, writeHandlerDir } from "./handlers.ts";
import { type BenchContext, type FerrySettings, ferryEnv } from "./scenarios.ts";

export interface ChainResult extends Drain {
  drained: boolean;
  effects: number;
  /** Events the relay sent (re-sends included) and its latency, publish → acknowledged, in ms. */
  relay: { events: number; p50: number; p99: number; max: number };
  warnings: number;
}

function upstreamSource(ctx: BenchContext, topic: string, intermediate: string): string {
  // The batch handler's head (format, reader schema, business key), with a body that publishes instead.
  const head = handlerSource("noop", topic, "unused", ctx.format).replace(/ {2}async handleBatch\(\) \{\},\n\}\);\n$/, "");
  return `${head}  publishes: [{ topic: ${JSON.stringify(intermediate)} }],
  async handleBatch(items, ctx) {
    for (const i of items) {
      ctx.publish(${JSON.stringify(intermediate)}, { ...i.value, producedAt: i.event.timestamp }, { key: i.value.orderId, event: i.event });
    }
  },
});
`;
}

const downstreamSource = (intermediate: string, table: string) => `import { defineHandler } from "ferry";

interface Invoice { orderId: string; customerId: string; totalCents: number; producedAt: number }

export default defineHandler<Invoice>({
  topic: ${JSON.stringify(intermediate)},
  async handleBatch(items, ctx) {
    await ctx.sql\`insert into ${table} (order_id, customer_id, total_cents, event_id, produced_at)
      select o, c, t, e, to_timestamp(ms / 1000.0)
      from unnest(\${items.map((i) => i.value.orderId)}::text[], \${items.map((i) => i.value.customerId)}::text[],
                  \${items.map((i) => i.value.totalCents)}::bigint[], \${items.map((i) => i.event.id)}::text[],
                  \${items.map((i) => i.value.producedAt)}::bigint[]) as u(o, c, t, e, ms)\`;
  },
});
`;

let seq = 0;

/** Drains a pre-loaded topic of `orders` distinct orders through the chain; `table` gets one row per order. */
export async function ferryChainDrain(
  ctx: BenchContext,
  topic: string,
  partitions: number,
  orders: number,
  table: string,
  settings: FerrySettings,
  maxSeconds = Infinity,
): Promise<ChainResult> {
  const name = `chain_${++seq}`;
  const intermediate = await ctx.kafka.createTopic("bench-chain", partitions);
  const dir = writeHandlerDir(`${name}_up`, upstreamSource(ctx, topic, intermediate));
  writeFileSync(path.join(dir, `${name}_down.ts`), downstreamSource(intermediate, table));
  const ferry = startFerry({
    binary: ctx.binary,
    handlersDir: dir,
    handlerName: `${name}_up`,
    groupPrefix: `bench-${ctx.runId}`,
    brokers: ctx.brokers,
    databaseUrl: ctx.databaseUrl,
    database: ctx.database,
    benchBackends: ctx.benchBackends,
    env: ferryEnv(ctx, settings),
  });
  try {
    const drain = await measureProgress(
      {
        handled: () => count(ctx.sql, table, ferry.benchBackends),
        async firstAt() {
          const [f] = await ctx.sql<{ at: Date | null }[]>`select min(received_at) as at from ferry_inbox where handler = ${`${name}_up`}`;
          return f!.at?.getTime();
        },
        checkAlive: () => ferry.checkAlive(),
        sampler: ferry.sampler,
        startedAt: ferry.startedAt,
      },
      orders,
      { maxSeconds },
    );
    const [relay] = await ctx.sql<{ events: number; p50: number; p99: number; max: number }[]>`
      select count(*)::int as events,
        percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max
      from (select extract(epoch from sent_at - created_at) * 1000 as ms from ferry_outbox where topic = ${intermediate} and sent_at is not null) l`;
    return {
      ...drain,
      drained: drain.records >= orders,
      effects: drain.records,
      relay: { events: relay!.events, p50: Number(relay!.p50), p99: Number(relay!.p99), max: Number(relay!.max) },
      warnings: ferry.problems().length,
    };
  } finally {
    await ferry.stop();
    rmSync(dir, { recursive: true, force: true });
    await ctx.sql`delete from ferry_outbox where topic = ${intermediate}`;
  }
}

async function count(sql: postgres.Sql, table: string, backends: Set<number>): Promise<number> {
  const [row] = await sql<{ n: number; pid: number }[]>`select count(*)::int as n, pg_backend_pid() as pid from ${sql(table)}`;
  backends.add(row!.pid);
  return row!.n;
}
