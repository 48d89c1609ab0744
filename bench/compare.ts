/**
 * Before/after for one engine change: two ferry binaries drain the same pre-loaded topic in
 * alternation (A B A B ...), each round with a fresh consumer group, so both see the same data
 * and, as far as a shared machine allows, the same load. Prints every round and the medians of
 * events/s and of CPU per event (Ferry and PostgreSQL), which moves far less with the machine's
 * other load than events/s does.
 *
 *   bun bench/compare.ts --a /tmp/before/ferry --b dist/ferry [--rounds 3] [--kind batch] [--events 100000]
 */
import { parseArgs } from "node:util";
import { loadAverage } from "./lib/proc-stats.ts";
import { provenance, provenanceFields, provenanceText } from "./lib/provenance.ts";
import { benchTopic, checkExact, ferryDrain, type FerryDrainResult } from "./lib/scenarios.ts";
import { say, setUp } from "./lib/setup.ts";
import { plan, workload } from "./lib/workload.ts";

const { values: args } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    rounds: { type: "string", default: "3" },
    kind: { type: "string", default: "batch" },
    events: { type: "string", default: "100000" },
    partitions: { type: "string", default: "8" },
    payload: { type: "string", default: "1024" },
    format: { type: "string", default: "avro" },
  },
});
if (!args.a || !args.b) throw new Error("usage: bun bench/compare.ts --a <ferry binary> --b <ferry binary> [--rounds N] [--kind batch|each|noop]");
const rounds = Number(args.rounds);
const kind = args.kind as "batch" | "each" | "noop";
const events = Number(args.events);

const facts = provenance();
const tables = Array.from({ length: rounds * 2 }, (_, i) => `effects_cmp_${i}`);
const ctx = await setUp({ build: false, binary: args.a, format: args.format as "avro" | "json", tables, database: "ferry_bench_compare" });
// setUp copied A; B gets its own private copy the same way.
const { copyFileSync } = await import("node:fs");
const binaryA = ctx.binary;
const binaryB = `${ctx.binary}-b`;
copyFileSync(args.b, binaryB);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const perEvent = (r: FerryDrainResult, cores: number) => (cores / r.eventsPerS) * 1e6;
try {
  const { topic, serialize } = await benchTopic(ctx, "bench-cmp", Number(args.partitions));
  const shape = plan({ count: events });
  await ctx.kafka.preload(workload(topic, topic, { serialize, count: events, payloadBytes: Number(args.payload) }));
  const total = await ctx.kafka.endOffsets(topic);
  const results: Record<"A" | "B", FerryDrainResult[]> = { A: [], B: [] };
  console.log(
    "| round | binary | events/s | Ferry µs CPU/event | PostgreSQL µs CPU/event | Kafka brokers µs CPU/event (shared) | machine busy (cores) | peak RSS MB | load |\n|--:|---|--:|--:|--:|--:|--:|--:|---|",
  );
  let t = 0;
  for (let round = 1; round <= rounds; round++) {
    // Alternate who goes first, so neither always runs into the other's leftovers.
    const order: Array<"A" | "B"> = round % 2 === 1 ? ["A", "B"] : ["B", "A"];
    for (const which of order) {
      ctx.binary = which === "A" ? binaryA : binaryB;
      say(`round ${round}: ${which}`);
      const r = await ferryDrain(ctx, kind, topic, total, tables[t++]!);
      checkExact(which, r, shape);
      results[which].push(r);
      console.log(
        `| ${round} | ${which} | ${Math.round(r.eventsPerS)} | ${perEvent(r, r.usage.processCores).toFixed(1)} | ${perEvent(r, r.usage.postgresCores).toFixed(1)} | ${perEvent(r, r.usage.kafkaCores).toFixed(1)} | ${r.usage.machineCores.toFixed(2)} | ${Math.round(r.usage.peakRssMb)} | ${loadAverage()} |`,
      );
    }
  }
  for (const which of ["A", "B"] as const) {
    const rs = results[which];
    console.log(
      `${which} median: ${Math.round(median(rs.map((r) => r.eventsPerS)))} events/s, Ferry ${median(rs.map((r) => perEvent(r, r.usage.processCores))).toFixed(1)} µs CPU/event, PostgreSQL ${median(rs.map((r) => perEvent(r, r.usage.postgresCores))).toFixed(1)} µs CPU/event, peak RSS ${Math.round(median(rs.map((r) => r.usage.peakRssMb)))} MB`,
    );
  }
  console.log(`${kind} handler, ${total} records (${events} orders of ~${args.payload} B), ${args.partitions} partitions`);
  const loadAfter = loadAverage();
  console.log(`\n${provenanceText(facts, loadAfter)}`);
  console.log(`COMPARE ${provenanceFields(facts, loadAfter)}`);
} finally {
  ctx.binary = binaryA;
  await ctx.tearDown();
}
