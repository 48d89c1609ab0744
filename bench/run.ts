/**
 * `bun run bench`: the default scenario, side by side in one run (see bench/README.md).
 *
 *   raw ceiling · Ferry no-op handler · Ferry `handle` (one insert per event) ·
 *   Ferry `handleBatch` (one set-based insert per batch) · naive consumer · Ferry at a fixed rate
 *
 * The last line is `RESULT events_per_s=<n> vs_naive=<x> vs_raw=<y> p99_ms=<n> rss_mb=<n>`.
 */
import { parseArgs } from "node:util";
import * as v from "valibot";
import { settingsSchema } from "../runtime/config/schema.ts";
import { loadAverage } from "./lib/proc-stats.ts";
import { formatTable, type Row } from "./lib/report.ts";
import { benchTopic, ferryDrain, ferryPaced, naiveConsumer, rawCeiling } from "./lib/scenarios.ts";
import { say, setUp } from "./lib/setup.ts";
import { plan, workload } from "./lib/workload.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "150000" },
    "max-seconds": { type: "string", default: "25" },
    partitions: { type: "string", default: "8" },
    payload: { type: "string", default: "1024" },
    rate: { type: "string", default: "5000" },
    "paced-seconds": { type: "string", default: "20" },
    "naive-seconds": { type: "string", default: "15" },
    "no-build": { type: "boolean", default: false },
    only: { type: "string" },
    binary: { type: "string" },
    "batch-size": { type: "string" },
    concurrency: { type: "string" },
    format: { type: "string", default: "avro" },
  },
});
const events = Number(args.events);
const partitions = Number(args.partitions);
const payloadBytes = Number(args.payload);
const only = args.only?.split(",");
const wanted = (name: string) => !only || only.includes(name);
// Ferry's defaults unless given; the raw consumer reads with the same batch size and concurrency.
const defaults = {
  batchSize: Number(args["batch-size"] ?? v.getDefault(settingsSchema.entries.FERRY_BATCH_SIZE)),
  concurrency: Number(args.concurrency ?? v.getDefault(settingsSchema.entries.FERRY_PARTITION_CONCURRENCY)),
};

const loadBefore = loadAverage();
const ctx = await setUp({
  build: !args["no-build"],
  binary: args.binary,
  format: args.format as "avro" | "json",
  tables: ["effects_each", "effects_batch", "effects_naive", "effects_paced"],
});
const rows: Row[] = [];
try {
  const { topic, serialize } = await benchTopic(ctx, "bench", partitions);
  const shape = plan({ count: events });
  say(
    `pre-loading ${shape.records} records (${events} orders of ~${payloadBytes} B ${ctx.format}, ${shape.technicalDuplicates} technical and ${shape.functionalDuplicates} functional duplicates) into ${topic}, ${partitions} partitions, RF 3`,
  );
  const loaded = await ctx.kafka.preload(workload(topic, topic, { serialize, count: events, payloadBytes }));
  const total = await ctx.kafka.endOffsets(topic);
  if (total !== shape.records) throw new Error(`the topic holds ${total} records, expected ${shape.records}`);
  say(`pre-loaded at ${Math.round(loaded.perSecond)} records/s`);

  const raw = wanted("raw") ? await rawCeiling(ctx, topic, total, defaults) : undefined;
  if (raw) rows.push({ scenario: "raw librdkafka (no processing)", ...raw });
  for (const kind of ["noop", "each", "batch"] as const) {
    if (!wanted(kind)) continue;
    say(`ferry with the ${kind} handler`);
    const r = await ferryDrain(ctx, kind, topic, total, `effects_${kind}`, defaults, Number(args["max-seconds"]));
    if (r.drained && r.effects !== null && r.effects !== shape.distinct)
      throw new Error(`${kind}: ${r.effects} effect rows, expected exactly ${shape.distinct}`);
    rows.push({ scenario: `ferry ${{ noop: "no-op handleBatch", each: "handle (1 insert/event)", batch: "handleBatch (1 insert/batch)" }[kind]}`, ...r, kind });
  }
  const naive = wanted("naive") ? await naiveConsumer(ctx, topic, "effects_naive", Number(args["naive-seconds"]), defaults.concurrency) : undefined;
  if (naive) rows.push({ scenario: "naive (1 txn + 1 commit/event)", ...naive });

  const each = rows.find((r) => r.kind === "each");
  const batch = rows.find((r) => r.kind === "batch");
  const best = [each, batch].filter((r) => r !== undefined).sort((a, b) => b.eventsPerS - a.eventsPerS)[0];
  const noop = rows.find((r) => r.kind === "noop");
  const pacedKind = best?.kind === "each" ? "each" : "batch";
  const paced = wanted("paced")
    ? await ferryPaced(ctx, pacedKind, partitions, Number(args.rate), Number(args["paced-seconds"]), "effects_paced", { payloadBytes }, defaults)
    : undefined;
  if (paced)
    rows.push({
      scenario: `ferry ${pacedKind} at ${paced.offeredPerS}/s offered`,
      eventsPerS: paced.achievedPerS,
      records: paced.records,
      seconds: Number(args["paced-seconds"]),
      usage: { ...paced.usage, peakRssMb: paced.peakRssMb },
    });

  const loadAfter = loadAverage();
  console.log(formatTable(rows));
  if (paced) {
    console.log(
      `\nlatency at ${paced.offeredPerS}/s offered (${Math.round(paced.achievedPerS)}/s achieved, ${pacedKind}), produce timestamp → applied_at, ${paced.latency.rows} events after a 2 s warm-up: p50 ${paced.latency.p50.toFixed(1)} ms, p99 ${paced.latency.p99.toFixed(1)} ms, max ${paced.latency.max.toFixed(1)} ms`,
    );
    console.log(
      `Kafka's own share, read by a bare librdkafka consumer at the same time (produce timestamp → receipt): p50 ${paced.kafkaFloor.p50} ms, p99 ${paced.kafkaFloor.p99} ms, max ${paced.kafkaFloor.max} ms`,
    );
  }
  console.log(
    `\nworkload: ${shape.records} records = ${events} orders + ${shape.technicalDuplicates} technical + ${shape.functionalDuplicates} functional duplicates, ~${payloadBytes} B ${ctx.format === "avro" ? "Avro (registry wire format)" : "JSON"}, ${partitions} partitions, RF 3, min.insync.replicas=2; batch size ${defaults.batchSize}, partition concurrency ${defaults.concurrency}`,
  );
  console.log(`load average before ${loadBefore}, after ${loadAfter} (2 cores, shared)`);
  const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : "n/a");
  console.log(
    `RESULT events_per_s=${Math.round(best?.eventsPerS ?? 0)} vs_naive=${ratio(best?.eventsPerS, naive?.eventsPerS)} vs_raw=${ratio(noop?.eventsPerS, raw?.eventsPerS)} p99_ms=${paced ? paced.latency.p99.toFixed(1) : "n/a"} rss_mb=${Math.round(best?.usage.peakRssMb ?? 0)}`,
  );
} finally {
  await ctx.tearDown();
}
