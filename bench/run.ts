/**
 * `bun run bench`: the default scenario, side by side in one run (see bench/README.md).
 *
 *   raw ceiling · Ferry no-op handler · Ferry `handle` (one insert per event) ·
 *   Ferry `handleBatch` and the peer (bench/peer/, plain Java) in alternation · the chain (a
 *   handleBatch publishing through the outbox → a second handleBatch) · naive consumer ·
 *   Ferry at a fixed rate
 *
 * The last line is `RESULT events_per_s=<n> vs_peer=<x> vs_raw=<y> … commit=… cmd=…`.
 * `--quick` runs a small version of everything (for working on the bench itself, not for figures).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { DEFAULT_BATCH_SIZE, settingsSchema } from "../runtime/config/schema.ts";
import { memoryCgroup } from "../tests/support/memory-cgroup.ts";
import { loadAverage } from "./lib/proc-stats.ts";
import { provenance, provenanceFields, provenanceText } from "./lib/provenance.ts";
import { buildPeer } from "./lib/peer.ts";
import { cpuPerEvent, formatRounds, formatTable, median, type Round, type Row } from "./lib/report.ts";
import { ferryChainDrain, ferryChainPaced } from "./lib/chain.ts";
import { benchTopic, checkExact, ferryDrain, ferryPaced, naiveConsumer, peerDrain, rawCeiling } from "./lib/scenarios.ts";
import { say, setUp } from "./lib/setup.ts";
import { plan, workload } from "./lib/workload.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    events: { type: "string" },
    rounds: { type: "string" },
    "max-seconds": { type: "string" },
    partitions: { type: "string", default: "8" },
    payload: { type: "string", default: "1024" },
    rate: { type: "string", default: "5000" },
    "chain-rate": { type: "string", default: "1000" },
    "paced-seconds": { type: "string" },
    "naive-seconds": { type: "string" },
    "no-build": { type: "boolean", default: false },
    only: { type: "string" },
    binary: { type: "string" },
    "batch-size": { type: "string" },
    concurrency: { type: "string" },
    format: { type: "string", default: "avro" },
    // Ferry's processes run in a cgroup with this memory limit (MB), as in a container with one,
    // and choose their own batch size for it unless --batch-size is given.
    "memory-limit": { type: "string" },
  },
});
// --quick: every scenario, small. Flags given explicitly win over it.
const pick = (name: keyof typeof args, full: number, quick: number) => Number(args[name] ?? (args.quick ? quick : full));
const events = pick("events", 150_000, 20_000);
const rounds = pick("rounds", 2, 1);
const maxSeconds = pick("max-seconds", 25, 10);
const pacedSeconds = pick("paced-seconds", 20, 8);
const naiveSeconds = pick("naive-seconds", 15, 5);
const partitions = Number(args.partitions);
const payloadBytes = Number(args.payload);
const only = args.only?.split(",");
const wanted = (name: string) => !only || only.includes(name);
// Ferry's defaults unless given; the raw consumer reads with the same batch size and concurrency.
const defaults = {
  batchSize: Number(args["batch-size"] ?? DEFAULT_BATCH_SIZE),
  concurrency: Number(args.concurrency ?? v.getDefault(settingsSchema.entries.FERRY_PARTITION_CONCURRENCY)),
};

// A binary the run does not build names its own commit.
const facts = provenance(args.binary ?? (args["no-build"] ? "dist/ferry" : undefined));
const batchTables = Array.from({ length: rounds }, (_, i) => `effects_batch_${i + 1}`);
const memoryLimitMb = args["memory-limit"] ? Number(args["memory-limit"]) : undefined;
const cgroup = memoryLimitMb ? memoryCgroup(memoryLimitMb, `bench-memory-${process.pid}`, path.resolve(args.binary ?? "dist/ferry")) : undefined;
if (cgroup && "unavailable" in cgroup) throw new Error(`--memory-limit: ${cgroup.unavailable}`);
// Under a limit Ferry picks its batch size (config/schema.ts, fittedBatchSize) unless told one.
const ferrySettings = cgroup && !args["batch-size"] ? { ...defaults, batchSize: undefined } : defaults;
const ctx = await setUp({
  build: !args["no-build"],
  binary: cgroup?.binary ?? args.binary,
  format: args.format as "avro" | "json",
  tables: ["effects_each", ...batchTables, "effects_chain", "effects_chain_paced", "effects_naive", "effects_paced"],
});
const rows: Row[] = [];
const alternation: Round[] = [];
try {
  const peer = wanted("peer") ? await buildPeer() : undefined;
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
  const label = { noop: "no-op handleBatch", each: "handle (1 insert/event)", batch: "handleBatch (1 insert/batch)" };
  for (const kind of ["noop", "each"] as const) {
    if (!wanted(kind)) continue;
    say(`ferry with the ${kind} handler`);
    const r = await ferryDrain(ctx, kind, topic, total, `effects_${kind}`, ferrySettings, maxSeconds);
    if (r.drained) checkExact(`ferry ${kind}`, r, shape);
    rows.push({ scenario: `ferry ${label[kind]}`, ...r, kind });
  }

  // Ferry's handleBatch and the peer drain the same topic in alternation, who goes first swapping
  // every round (F P, P F, …), so a drift of the machine's load hits both alike. Both must be exact.
  const systems = [...(wanted("batch") ? (["ferry"] as const) : []), ...(peer ? (["peer"] as const) : [])];
  for (let round = 1; round <= rounds; round++) {
    for (const system of round % 2 === 1 ? systems : [...systems].reverse()) {
      say(`round ${round} of ${rounds}: ${system === "ferry" ? "ferry with the batch handler" : `the peer (Java ${peer!.javaVersion})`}`);
      if (system === "ferry") {
        const r = await ferryDrain(ctx, "batch", topic, total, batchTables[round - 1]!, ferrySettings);
        checkExact(`ferry batch, round ${round}`, r, shape);
        rows.push({ scenario: `ferry ${label.batch}, round ${round}`, ...r, kind: "batch" });
        alternation.push({ round, system, drain: r, load: loadAverage() });
      } else {
        const r = await peerDrain(ctx, peer!, topic, total);
        checkExact(`peer, round ${round}`, r, shape);
        rows.push({ scenario: `peer (Java kafka-clients + JDBC), round ${round}`, ...r, kind: "peer" });
        alternation.push({ round, system, drain: r, load: loadAverage() });
      }
    }
  }

  // The chain: the same orders through two handlers and the outbox relay, end to end.
  let chain: Awaited<ReturnType<typeof ferryChainDrain>> | undefined;
  if (wanted("chain")) {
    say("ferry chain: handleBatch → ctx.publish → relay → handleBatch");
    chain = await ferryChainDrain(ctx, topic, partitions, shape.distinct, "effects_chain", ferrySettings, maxSeconds);
  }
  if (chain) {
    if (chain.drained && chain.effects !== shape.distinct) throw new Error(`the chain is not exact: ${chain.effects} effect rows, expected ${shape.distinct}`);
    rows.push({ scenario: "ferry chain (handleBatch → ctx.publish → relay → handleBatch), orders end to end", ...chain, kind: "chain" });
  }

  const chainPaced = wanted("chain-paced")
    ? await ferryChainPaced(ctx, partitions, Number(args["chain-rate"]), pacedSeconds, "effects_chain_paced", { payloadBytes }, ferrySettings)
    : undefined;
  if (chainPaced)
    rows.push({
      scenario: `ferry chain at ${chainPaced.offeredPerS}/s offered`,
      eventsPerS: chainPaced.achievedPerS,
      records: chainPaced.records,
      seconds: pacedSeconds,
      usage: chainPaced.usage,
    });

  const naive = wanted("naive") ? await naiveConsumer(ctx, topic, "effects_naive", naiveSeconds, defaults.concurrency) : undefined;
  if (naive) rows.push({ scenario: "naive (1 txn + 1 commit/event)", ...naive });

  const of = (system: Round["system"]) => alternation.filter((r) => r.system === system).map((r) => r.drain);
  const ferryRounds = of("ferry");
  const peerRounds = of("peer");
  const batchPerS = ferryRounds.length > 0 ? median(ferryRounds.map((d) => d.eventsPerS)) : undefined;
  const each = rows.find((r) => r.kind === "each");
  const noop = rows.find((r) => r.kind === "noop");
  const pacedKind = batchPerS === undefined && each ? "each" : "batch";
  const paced = wanted("paced")
    ? await ferryPaced(ctx, pacedKind, partitions, Number(args.rate), pacedSeconds, "effects_paced", { payloadBytes }, ferrySettings)
    : undefined;
  if (paced)
    rows.push({
      scenario: `ferry ${pacedKind} at ${paced.offeredPerS}/s offered`,
      eventsPerS: paced.achievedPerS,
      records: paced.records,
      seconds: pacedSeconds,
      usage: { ...paced.usage, peakRssMb: paced.peakRssMb },
    });

  const loadAfter = loadAverage();
  console.log(`\n${provenanceText(facts, loadAfter)}\n`);
  console.log(formatTable(rows));
  if (alternation.length > 0) {
    console.log(
      "\nFerry `handleBatch` and the peer in alternation on the same topic. From start: process spawned → every offset at the end (Ferry: its offsets in PostgreSQL; the peer: its offsets committed to Kafka, which it does after each poll's transactions). Steady: first inbox transaction → the same end. CPU per event over the window from start.\n",
    );
    console.log(formatRounds(alternation));
  }
  // Each round's two drains ran back to back: the ratio within a round is the one that travels.
  const ratios = (measure: (d: (typeof ferryRounds)[number]) => number) =>
    Array.from({ length: Math.min(ferryRounds.length, peerRounds.length) }, (_, i) => measure(ferryRounds[i]!) / measure(peerRounds[i]!));
  const vsPeer = median(ratios((d) => d.fromStart.eventsPerS));
  const vsPeerSteady = median(ratios((d) => d.eventsPerS));
  const cpu = (ds: typeof ferryRounds) => median(ds.map((d) => cpuPerEvent(d).total));
  if (ferryRounds.length > 0 && peerRounds.length > 0)
    console.log(
      `\nFerry ÷ peer (median of the rounds' ratios): ${vsPeer.toFixed(2)} from start, ${vsPeerSteady.toFixed(2)} steady; µs CPU/event with PostgreSQL's: Ferry ${cpu(ferryRounds).toFixed(1)}, peer ${cpu(peerRounds).toFixed(1)}; peak RSS MB: Ferry ${Math.round(median(ferryRounds.map((d) => d.fromStart.usage.peakRssMb)))}, peer ${Math.round(median(peerRounds.map((d) => d.fromStart.usage.peakRssMb)))}. Peer: Java ${peer?.javaVersion}.`,
    );
  if (paced) {
    console.log(
      `\nlatency at ${paced.offeredPerS}/s offered (${Math.round(paced.achievedPerS)}/s achieved, ${pacedKind}), produce timestamp → applied_at, ${paced.latency.rows} events after a 2 s warm-up: p50 ${paced.latency.p50.toFixed(1)} ms, p99 ${paced.latency.p99.toFixed(1)} ms, max ${paced.latency.max.toFixed(1)} ms`,
    );
    console.log(
      `Kafka's own share, read by a bare librdkafka consumer at the same time (produce timestamp → receipt): p50 ${paced.kafkaFloor.p50} ms, p99 ${paced.kafkaFloor.p99} ms, max ${paced.kafkaFloor.max} ms`,
    );
  }
  if (chain) {
    const single = batchPerS ?? noop?.eventsPerS;
    console.log(
      `\nchain: ${Math.round(chain.eventsPerS)} orders/s end to end (${single ? `${(chain.eventsPerS / single).toFixed(2)} of a single handleBatch's ${Math.round(single)} records/s` : "no single-handler run to compare"}); relay, publish → appended by Kafka's leader, ${chain.relay.events} events: p50 ${chain.relay.p50.toFixed(1)} ms, p99 ${chain.relay.p99.toFixed(1)} ms, max ${chain.relay.max.toFixed(1)} ms (under a full drain, not a fixed rate)`,
    );
  }
  if (chainPaced) {
    console.log(
      `chain at ${chainPaced.offeredPerS}/s offered (${Math.round(chainPaced.achievedPerS)}/s achieved), after a 2 s warm-up: order produced → invoice effect p50 ${chainPaced.endToEnd.p50.toFixed(1)} ms, p99 ${chainPaced.endToEnd.p99.toFixed(1)} ms; the relay, publish → appended by Kafka's leader (its own produce included, the followers' copies not), ${chainPaced.relay.events} events: p50 ${chainPaced.relay.p50.toFixed(1)} ms, p99 ${chainPaced.relay.p99.toFixed(1)} ms; Kafka's own produce (the paced producer, send → acknowledged) p50 ${chainPaced.kafkaProduce.p50.toFixed(1)} ms, p99 ${chainPaced.kafkaProduce.p99.toFixed(1)} ms: the relay adds ${(chainPaced.relay.p50 - chainPaced.kafkaProduce.p50).toFixed(1)} ms at p50`,
    );
  }
  console.log(
    `\nworkload: ${shape.records} records = ${events} orders + ${shape.technicalDuplicates} technical + ${shape.functionalDuplicates} functional duplicates, ~${payloadBytes} B ${ctx.format === "avro" ? "Avro (registry wire format)" : "JSON"}, ${partitions} partitions, RF 3, min.insync.replicas=2; batch size ${ferrySettings.batchSize ?? `Ferry's own under the ${memoryLimitMb} MB limit`}, partition concurrency ${defaults.concurrency}`,
  );
  const fmt = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
  const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : "n/a");
  const result = [
    `events_per_s=${fmt(batchPerS ?? each?.eventsPerS, 0)}`,
    `vs_peer=${fmt(vsPeer, 2)}`,
    `vs_peer_steady=${fmt(vsPeerSteady, 2)}`,
    `vs_raw=${ratio(noop?.eventsPerS, raw?.eventsPerS)}`,
    `vs_naive=${ratio(batchPerS ?? each?.eventsPerS, naive?.eventsPerS)}`,
    `ferry_cpu_us=${fmt(ferryRounds.length > 0 ? cpu(ferryRounds) : undefined, 1)}`,
    `peer_cpu_us=${fmt(peerRounds.length > 0 ? cpu(peerRounds) : undefined, 1)}`,
    `p99_ms=${paced ? paced.latency.p99.toFixed(1) : "n/a"}`,
    `chain_per_s=${fmt(chain?.eventsPerS, 0)}`,
    `chain_vs_batch=${ratio(chain?.eventsPerS, batchPerS)}`,
    `relay_p50_ms=${fmt(chainPaced?.relay.p50 ?? chain?.relay.p50, 1)}`,
    `relay_over_kafka_p50_ms=${fmt(chainPaced ? chainPaced.relay.p50 - chainPaced.kafkaProduce.p50 : undefined, 1)}`,
    `rss_mb=${fmt(ferryRounds.length > 0 ? median(ferryRounds.map((d) => d.fromStart.usage.peakRssMb)) : undefined, 0)}`,
    `peer_rss_mb=${fmt(peerRounds.length > 0 ? median(peerRounds.map((d) => d.fromStart.usage.peakRssMb)) : undefined, 0)}`,
    ...(cgroup ? [`memory_limit_mb=${memoryLimitMb}`, `cgroup_peak_mb=${cgroup.peakMb()}`, `oom_kills=${cgroup.oomKills()}`] : []),
  ];
  console.log(`\nRESULT ${result.join(" ")} ${provenanceFields(facts, loadAfter)}`);
} finally {
  await ctx.tearDown();
  cgroup?.remove();
}
