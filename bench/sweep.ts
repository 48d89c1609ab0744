/**
 * `bun run bench:sweep`: how cost grows with batch size, partition concurrency, partitions,
 * payload size and offered rate, with the `handleBatch` one-row handler (see bench/README.md).
 * Each point drains a pre-loaded topic with a fresh consumer group; CPU per event (Ferry and
 * PostgreSQL) is reported beside events/s because it moves less with the machine's other load.
 *
 *   bun run bench:sweep [--events 60000] [--only batch,concurrency,partitions,payload,rate]
 */
import { parseArgs } from "node:util";
import { formatTable, type Row } from "./lib/report.ts";
import { loadAverage } from "./lib/proc-stats.ts";
import { provenance, provenanceText } from "./lib/provenance.ts";
import { benchTopic, checkExact, ferryDrain, ferryPaced, type FerrySettings } from "./lib/scenarios.ts";
import { say, setUp } from "./lib/setup.ts";
import { plan, workload, type WorkloadShape } from "./lib/workload.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "60000" },
    only: { type: "string", default: "batch,concurrency,partitions,payload,rate" },
    kind: { type: "string", default: "batch" },
    "no-build": { type: "boolean", default: false },
    binary: { type: "string" },
    format: { type: "string", default: "avro" },
  },
});
const events = Number(args.events);
const sweeps = args.only!.split(",");
const kind = args.kind as "batch" | "each" | "noop";

interface Point {
  label: string;
  partitions: number;
  payload: number;
  settings: FerrySettings;
}
const points: Point[] = [];
const base = { partitions: 8, payload: 1024 };
if (sweeps.includes("batch")) for (const b of [50, 200, 500, 1000, 2000]) points.push({ label: `batch size ${b}`, ...base, settings: { batchSize: b } });
if (sweeps.includes("concurrency"))
  for (const c of [1, 2, 4, 8, 16])
    points.push({ label: `concurrency ${c} (16 partitions, pool 20)`, ...base, partitions: 16, settings: { concurrency: c, poolSize: 20 } });
if (sweeps.includes("partitions")) for (const p of [1, 4, 8, 16, 32]) points.push({ label: `${p} partitions`, ...base, partitions: p, settings: {} });
if (sweeps.includes("payload")) for (const b of [256, 1024, 4096, 16384]) points.push({ label: `payload ${b} B`, ...base, payload: b, settings: {} });
const rates = sweeps.includes("rate") ? [1000, 5000, 10000, 20000] : [];

const tables = [...points.map((_, i) => `effects_p${i}`), ...rates.map((r) => `effects_rate_${r}`)];
const facts = provenance();
const ctx = await setUp({ build: !args["no-build"], binary: args.binary, format: args.format as "avro" | "json", tables, database: "ferry_bench_sweep" });
const rows: Row[] = [];
try {
  // One topic per (partitions, payload); the same ~60 MB of data whatever the payload size.
  const topics = new Map<string, { topic: string; total: number; shape: WorkloadShape }>();
  const topicFor = async (partitions: number, payload: number) => {
    const key = `${partitions}/${payload}`;
    const known = topics.get(key);
    if (known) return known;
    const count = Math.max(5_000, Math.round((events * 1024) / Math.max(payload, 1024)));
    const { topic, serialize } = await benchTopic(ctx, `bench-sweep-p${partitions}-b${payload}`, partitions);
    say(`pre-loading ${count} orders of ${payload} B into ${topic} (${partitions} partitions)`);
    await ctx.kafka.preload(workload(topic, topic, { serialize, count, payloadBytes: payload }));
    const entry = { topic, total: await ctx.kafka.endOffsets(topic), shape: plan({ count }) };
    topics.set(key, entry);
    return entry;
  };
  for (const [i, p] of points.entries()) {
    const { topic, total, shape } = await topicFor(p.partitions, p.payload);
    say(`${p.label}: ${total} records`);
    const r = await ferryDrain(ctx, kind, topic, total, `effects_p${i}`, p.settings, 20);
    if (r.drained) checkExact(p.label, r, shape);
    rows.push({ scenario: p.label, ...r });
  }
  console.log(formatTable(rows));
  if (rates.length > 0) {
    console.log(
      "\n| offered events/s | achieved | p50 ms | p99 ms | max ms | Kafka alone p50 / p99 ms | Ferry CPU (cores) | PostgreSQL CPU (cores) |\n|--:|--:|--:|--:|--:|--:|--:|--:|",
    );
    for (const rate of rates) {
      say(`offered rate ${rate}/s`);
      const r = await ferryPaced(ctx, kind, 8, rate, 15, `effects_rate_${rate}`, { payloadBytes: 1024 });
      const l = r.latency;
      console.log(
        `| ${rate} | ${Math.round(r.achievedPerS)} | ${l.p50.toFixed(0)} | ${l.p99.toFixed(0)} | ${l.max.toFixed(0)} | ${r.kafkaFloor.p50} / ${r.kafkaFloor.p99} | ${r.usage.processCores.toFixed(2)} | ${r.usage.postgresCores.toFixed(2)} |`,
      );
    }
  }
  console.log(`\nhandler: ${kind}. ${provenanceText(facts, loadAverage())}`);
} finally {
  await ctx.tearDown();
}
