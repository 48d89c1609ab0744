/**
 * Slow handlers (issue 18): a handler that awaits a call to a local HTTP server answering after
 * `--delay-ms` (20), then writes its effect row, on 8 partitions of orders keyed by 1,000
 * customers. The same handler drains the same pre-loaded topic twice in one run, each in a fresh
 * consumer group: partition-serial (no `concurrency`: one event at a time per partition, in batch
 * transactions) and with `concurrency: { perPartition: 32, order: "key" }`. Both are checked exact
 * when they drain the whole topic; a drain stops counting after `--seconds`.
 *
 * Key-level concurrency pays one transaction per event, so the run also measures PostgreSQL's own
 * ceiling for that on this machine: bare transactions (BEGIN, SET LOCAL, one insert, COMMIT) per
 * second over as many connections as Ferry's pool, for 3 s.
 *
 * Both run with FERRY_BATCH_SIZE=100 (`--batch-size`): a serial batch of the default 1,000 takes
 * 20 s at 20 ms per event, longer than the window, and its progress (the offset in PostgreSQL,
 * written per batch) would not show in it; the serial rate itself does not depend on it.
 *
 *   bun bench/slow.ts [--events 20000] [--seconds 20] [--delay-ms 20] [--per-partition 32] [--pool 40] [--batch-size 100] [--no-build]
 */
import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { measureDrain, startFerry } from "./lib/ferry.ts";
import { writeHandlerDir } from "./lib/handlers.ts";
import { loadAverage } from "./lib/proc-stats.ts";
import { provenance, provenanceFields, provenanceText } from "./lib/provenance.ts";
import { checkExact } from "./lib/scenarios.ts";
import { say, setUp } from "./lib/setup.ts";
import { plan, workload } from "./lib/workload.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    seconds: { type: "string", default: "20" },
    "delay-ms": { type: "string", default: "20" },
    "per-partition": { type: "string", default: "32" },
    partitions: { type: "string", default: "8" },
    customers: { type: "string", default: "1000" },
    pool: { type: "string", default: "40" },
    "batch-size": { type: "string", default: "100" },
    "no-build": { type: "boolean", default: false },
    binary: { type: "string" },
    only: { type: "string" },
  },
});
const events = Number(args.events);
const delayMs = Number(args["delay-ms"]);
const perPartition = Number(args["per-partition"]);
const partitions = Number(args.partitions);
const customers = Number(args.customers);

const facts = provenance(args.binary ?? (args["no-build"] ? "dist/ferry" : undefined));
const allVariants = [
  { name: "slow_serial", label: "partition-serial", options: "" },
  { name: "slow_keyed", label: `key-level concurrency ${perPartition}`, options: `concurrency: { perPartition: ${perPartition}, order: "key" },` },
];
const variants = args.only ? allVariants.filter((v) => v.name === `slow_${args.only}`) : allVariants;
const ctx = await setUp({
  build: !args["no-build"],
  ...(args.binary ? { binary: args.binary } : {}),
  tables: variants.map((v) => v.name),
  format: "json",
  database: "ferry_bench_slow",
});
// The slow dependency: answers every request after `delayMs`, however many wait at once.
const server = Bun.serve({
  port: 0,
  async fetch() {
    await Bun.sleep(delayMs);
    return new Response("ok");
  },
});

const handlerSource = (topic: string, table: string, options: string) => `import { defineHandler } from "ferry";

interface Order { orderId: string; customerId: string; totalCents: number }

export default defineHandler<Order>({
  topic: ${JSON.stringify(topic)},
  businessKey: (order) => order.orderId,
  ${options}
  async handle(order, ctx) {
    const answer = await fetch(${JSON.stringify(`http://127.0.0.1:${server.port}/charge`)}, { method: "POST", body: order.orderId, signal: ctx.signal });
    if (!answer.ok) throw new Error(\`the provider answered \${answer.status}\`);
    await answer.text();
    await ctx.sql\`insert into ${table} (order_id, customer_id, total_cents, event_id, produced_at)
      values (\${order.orderId}, \${order.customerId}, \${order.totalCents}, \${ctx.event.id}, to_timestamp(\${ctx.event.timestamp}::bigint / 1000.0))\`;
  },
});
`;

/** Bare one-insert transactions per second over `connections` connections, for `ms`. */
async function bareTransactionsPerSecond(databaseUrl: string, connections: number, ms: number): Promise<number> {
  const sql = postgres(databaseUrl, { max: connections, onnotice: () => {}, connection: { application_name: "ferry-bench" } });
  try {
    await sql`create table bench_bare_tx (id bigserial primary key, v text not null)`;
    let done = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < until) {
          await sql.begin(async (tx) => {
            await tx.unsafe("set local statement_timeout = 30000");
            await tx`insert into bench_bare_tx (v) values (${String(done)})`;
          });
          done++;
        }
      }),
    );
    return done / (ms / 1000);
  } finally {
    await sql`drop table if exists bench_bare_tx`;
    await sql.end();
  }
}

try {
  const bareTx = await bareTransactionsPerSecond(ctx.databaseUrl, Number(args.pool), 3_000);
  const topic = await ctx.kafka.createTopic("bench-slow", partitions);
  const options = { count: events, customers, payloadBytes: 256 };
  const shape = plan(options);
  await ctx.kafka.preload(workload(topic, topic, options));
  const total = await ctx.kafka.endOffsets(topic);
  const rows: string[] = [];
  const rates: number[] = [];
  for (const v of variants) {
    say(`${v.label}: draining ${total} records (at most ${args.seconds} s)`);
    const dir = writeHandlerDir(v.name, handlerSource(topic, v.name, v.options));
    const lettersBefore = await ctx.kafka.endOffsets(`${topic}.dlt`);
    const ferry = startFerry({
      binary: ctx.binary,
      handlersDir: dir,
      handlerName: v.name,
      groupPrefix: `bench-${ctx.runId}`,
      brokers: ctx.brokers,
      databaseUrl: ctx.databaseUrl,
      database: ctx.database,
      benchBackends: ctx.benchBackends,
      env: { FERRY_DATABASE_POOL_SIZE: args.pool!, FERRY_BATCH_SIZE: args["batch-size"]!, FERRY_LOG_LEVEL: "warn" },
    });
    try {
      const drain = await measureDrain(ferry, ctx.sql, topic, total, { maxSeconds: Number(args.seconds) });
      const drained = drain.records >= total;
      if (drained) {
        const [effects] = await ctx.sql<{ n: number; dup: number }[]>`
          select count(*)::int as n, (count(*) filter (where event_id like '%-f-%'))::int as dup from ${ctx.sql(v.name)}`;
        const [inbox] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where handler = ${v.name}`;
        const deadLetters = (await ctx.kafka.endOffsets(`${topic}.dlt`)) - lettersBefore;
        checkExact(v.label, { effects: effects!.n, effectsFromDuplicates: effects!.dup, inbox: inbox!.n, deadLetters }, shape);
      }
      rates.push(drain.eventsPerS);
      rows.push(
        `| ${v.label} | ${Math.round(drain.eventsPerS)} | ${drain.records} of ${total}${drained ? " (exact)" : ""} | ${drain.seconds.toFixed(1)} | ${((drain.usage.processCores / drain.eventsPerS) * 1e6).toFixed(0)} | ${((drain.usage.postgresCores / drain.eventsPerS) * 1e6).toFixed(0)} | ${drain.usage.machineCores.toFixed(2)} | ${[...new Set(ferry.problems().map((p) => String(p.msg)))].join(", ") || "none"} |`,
      );
    } finally {
      await ferry.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const loadAfter = loadAverage();
  console.log(`\n${provenanceText(facts, loadAfter)}`);
  console.log(
    `A handler awaiting a ${delayMs} ms HTTP call, then one insert; ${total} records (${events} orders of ~256 B, ${customers} customer keys), ${partitions} partitions, FERRY_DATABASE_POOL_SIZE=${args.pool}, FERRY_BATCH_SIZE=${args["batch-size"]}.\n`,
  );
  console.log("| handler | events/s | handled | seconds | Ferry µs CPU/event | PostgreSQL µs CPU/event | machine busy (cores) | warnings logged |");
  console.log("|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const row of rows) console.log(row);
  console.log(
    `\nPostgreSQL alone, bare one-insert transactions over ${args.pool} connections: ${Math.round(bareTx)}/s (the ceiling of one transaction per event here).`,
  );
  const figures = variants.map((v, i) => `${v.name.slice("slow_".length)}_events_per_s=${Math.round(rates[i]!)}`);
  if (rates.length === 2) figures.push(`speedup=${(rates[1]! / rates[0]!).toFixed(1)}`);
  figures.push(`bare_tx_per_s=${Math.round(bareTx)}`);
  console.log(`\nSLOW ${figures.join(" ")} ${provenanceFields(facts, loadAfter)}`);
} finally {
  server.stop(true);
  await ctx.tearDown();
}
