/**
 * The chain scenario: orders → `<name>_up` (handleBatch publishing one event per order through
 * ctx.publish) → the intermediate topic → `<name>_down` (handleBatch, one set-based insert), both
 * in one worker. Its drain ends when every order has its effect row downstream; the relay's own
 * latency is the upstream handler's publish → the intermediate record's LogAppendTime, read
 * downstream (one machine, one clock).
 */
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { type Drain, type Latency, measureProgress, readLatency, startFerry } from "./ferry.ts";
import { handlerSource, writeHandlerDir } from "./handlers.ts";
import { percentile } from "./report.ts";
import { type BenchContext, benchTopic, type FerrySettings, ferryEnv } from "./scenarios.ts";
import { workload, type WorkloadOptions } from "./workload.ts";

export interface ChainResult extends Drain {
  drained: boolean;
  effects: number;
  /** Orders whose intermediate event arrived downstream, and the relay's latency for them: publish → appended by Kafka's leader, in ms. */
  relay: { events: number; p50: number; p99: number; max: number };
  warnings: number;
}

function upstreamSource(ctx: BenchContext, topic: string, intermediate: string): string {
  // The batch handler's head (format, reader schema, business key), with a body that publishes instead.
  const head = handlerSource("noop", topic, "unused", ctx.format).replace(/ {2}async handleBatch\(\) \{\},\n\}\);\n$/, "");
  return `${head}  publishes: [{ topic: ${JSON.stringify(intermediate)} }],
  async handleBatch(items, ctx) {
    for (const i of items) {
      ctx.publish(${JSON.stringify(intermediate)}, { ...i.value, producedAt: i.event.timestamp, publishedAt: Date.now() }, { key: i.value.orderId, event: i.event });
    }
  },
});
`;
}

const downstreamSource = (intermediate: string, table: string) => `import { defineHandler } from "ferry";

interface Invoice { orderId: string; customerId: string; totalCents: number; producedAt: number; publishedAt: number }

export default defineHandler<Invoice>({
  topic: ${JSON.stringify(intermediate)},
  async handleBatch(items, ctx) {
    // The intermediate topic keeps LogAppendTime: the record's timestamp is when Kafka's leader appended it.
    await ctx.sql\`insert into ${table} (order_id, customer_id, total_cents, event_id, produced_at, relay_ms)
      select o, c, t, e, to_timestamp(ms / 1000.0), r
      from unnest(\${items.map((i) => i.value.orderId)}::text[], \${items.map((i) => i.value.customerId)}::text[],
                  \${items.map((i) => i.value.totalCents)}::bigint[], \${items.map((i) => i.event.id)}::text[],
                  \${items.map((i) => i.value.producedAt)}::bigint[], \${items.map((i) => i.event.timestamp - i.value.publishedAt)}::float8[]) as u(o, c, t, e, ms, r)\`;
  },
});
`;

let seq = 0;

/** One worker running both steps of the chain on `topic`; `stop()` stops it and clears its outbox rows. */
async function startChain(ctx: BenchContext, topic: string, partitions: number, table: string, settings: FerrySettings) {
  const name = `chain_${++seq}`;
  const intermediate = await ctx.kafka.createTopic("bench-chain", partitions, { "message.timestamp.type": "LogAppendTime" });
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
  return {
    name,
    intermediate,
    ferry,
    /**
     * The relay's latency of the orders produced since `since`: the upstream handler's publish (its
     * clock) → Kafka's leader appended the record (the intermediate topic's LogAppendTime), read
     * downstream. Sent rows are deleted by default, so the outbox has no record of when they went.
     */
    async relayLatency(since = new Date(0)) {
      const [relay] = await ctx.sql<{ events: number; p50: number; p99: number; max: number }[]>`
        select count(*)::int as events,
          percentile_cont(0.5) within group (order by ms) as p50, percentile_cont(0.99) within group (order by ms) as p99, max(ms) as max
        from (select relay_ms as ms from ${ctx.sql(table)} where produced_at >= ${since}) l`;
      return { events: relay!.events, p50: Number(relay!.p50), p99: Number(relay!.p99), max: Number(relay!.max) };
    },
    async stop() {
      await ferry.stop();
      rmSync(dir, { recursive: true, force: true });
      await ctx.sql`delete from ferry_outbox where topic = ${intermediate}`;
    },
  };
}

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
  const chain = await startChain(ctx, topic, partitions, table, settings);
  const { ferry } = chain;
  try {
    const drain = await measureProgress(
      {
        handled: () => count(ctx.sql, table, ferry.benchBackends),
        async firstAt() {
          const [f] = await ctx.sql<{ at: Date | null }[]>`select min(received_at) as at from ferry_inbox where handler = ${`${chain.name}_up`}`;
          return f!.at?.getTime();
        },
        checkAlive: () => ferry.checkAlive(),
        sampler: ferry.sampler,
        startedAt: ferry.startedAt,
      },
      orders,
      { maxSeconds },
    );
    return { ...drain, drained: drain.records >= orders, effects: drain.records, relay: await chain.relayLatency(), warnings: ferry.problems().length };
  } finally {
    await chain.stop();
  }
}

export interface ChainPacedResult {
  offeredPerS: number;
  achievedPerS: number;
  records: number;
  /** Produce timestamp of the order → its effect row downstream (both hops and the relay). */
  endToEnd: Latency;
  /** The relay alone: publish → appended by Kafka's leader. */
  relay: ChainResult["relay"];
  /** Kafka's own produce latency at the same time: the paced producer's send → acknowledgement, after the warm-up. */
  kafkaProduce: { p50: number; p99: number };
  /** The worker (both steps and the relay), PostgreSQL and the machine while producing at the offered rate. */
  usage: Drain["usage"];
}

/**
 * The chain caught up on an empty topic; a paced producer offers `ratePerS` for `seconds`.
 * Latencies count what was produced after a warm-up of 2 s.
 */
export async function ferryChainPaced(
  ctx: BenchContext,
  partitions: number,
  ratePerS: number,
  seconds: number,
  table: string,
  workloadOptions: Omit<WorkloadOptions, "count">,
  settings: FerrySettings,
): Promise<ChainPacedResult> {
  const { topic, serialize } = await benchTopic(ctx, "bench-chain-paced", partitions);
  const chain = await startChain(ctx, topic, partitions, table, settings);
  try {
    await chain.ferry.waitForLog("partitions:assigned");
    const warmUpUntil = new Date(Date.now() + 2_000);
    const records = workload(topic, topic, { ...workloadOptions, serialize, count: Math.ceil(ratePerS * seconds * 1.2) });
    const startPerf = performance.now();
    const produced = await ctx.kafka.producePaced(records, ratePerS, seconds, 2_000);
    const endPerf = performance.now();
    await waitForQuiet(ctx.sql, table, chain.intermediate, () => chain.ferry.checkAlive());
    return {
      offeredPerS: ratePerS,
      achievedPerS: produced.achievedPerS,
      records: produced.records,
      endToEnd: await readLatency(ctx.sql, table, warmUpUntil),
      relay: await chain.relayLatency(warmUpUntil),
      kafkaProduce: { p50: percentile(produced.ackMs, 0.5), p99: percentile(produced.ackMs, 0.99) },
      usage: chain.ferry.sampler.usage(startPerf + 2_000, endPerf),
    };
  } finally {
    await chain.stop();
  }
}

/** Until the outbox is empty and the effects table, no longer empty, stops growing for 2 s: the chain caught up. */
async function waitForQuiet(sql: postgres.Sql, table: string, intermediate: string, checkAlive: () => void) {
  let last = -1;
  let since = Date.now();
  const deadline = Date.now() + 120_000;
  for (;;) {
    checkAlive();
    const [row] = await sql<{ n: number; unsent: number }[]>`select (select count(*)::int from ${sql(table)}) as n,
      (select count(*)::int from ferry_outbox where topic = ${intermediate} and sent_at is null) as unsent`;
    if (row!.n !== last || row!.n === 0 || row!.unsent > 0) {
      last = row!.n;
      since = Date.now();
    } else if (Date.now() - since > 2_000) return;
    if (Date.now() > deadline) throw new Error(`the chain did not catch up within 120 s (${last} effect rows)`);
    await Bun.sleep(100);
  }
}

async function count(sql: postgres.Sql, table: string, backends: Set<number>): Promise<number> {
  const [row] = await sql<{ n: number; pid: number }[]>`select count(*)::int as n, pg_backend_pid() as pid from ${sql(table)}`;
  backends.add(row!.pid);
  return row!.n;
}
