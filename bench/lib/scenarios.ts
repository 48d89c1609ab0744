/**
 * The measured scenarios, shared by bench/run.ts and bench/sweep.ts. Each gets its own handler
 * name (so its own inbox rows, business keys and consumer group) over a topic the caller loaded.
 */
import { rmSync } from "node:fs";
import type postgres from "postgres";
import { runChild, spawnChild, type ChildResult } from "./child.ts";
import { measureDrain, readLatency, startFerry, type Drain, type Latency } from "./ferry.ts";
import type { BenchAvro } from "./avro.ts";
import { handlerSource, writeHandlerDir, type HandlerKind, type ValueFormat } from "./handlers.ts";
import type { BenchKafka } from "./kafka.ts";
import { json, workload, type Serialize, type WorkloadOptions } from "./workload.ts";

export interface BenchContext {
  binary: string;
  brokers: string;
  databaseUrl: string;
  database: string;
  sql: postgres.Sql;
  kafka: BenchKafka;
  /** Made unique per run: group prefixes and handler names derive from it. */
  runId: string;
  format: ValueFormat;
  /** Set when `format` is avro. */
  avro?: BenchAvro;
  registryUrl?: string;
}

/** A topic of the run (and its dead letter topic), with the order schema registered for it when the run speaks Avro. */
export async function benchTopic(ctx: BenchContext, prefix: string, partitions: number): Promise<{ topic: string; serialize: Serialize }> {
  const topic = await ctx.kafka.createTopic(prefix, partitions);
  return { topic, serialize: ctx.avro ? await ctx.avro.register(topic) : json };
}

// BENCH_FERRY_ENV='{"FERRY_LOG_LEVEL":"debug"}' adds settings to every Ferry process (to look into a run).
const extraFerryEnv = JSON.parse(process.env.BENCH_FERRY_ENV ?? "{}") as Record<string, string>;

const ferryEnv = (ctx: BenchContext, settings: FerrySettings) => ({
  ...settingsEnv(settings),
  ...(ctx.format === "avro" ? { FERRY_SCHEMA_REGISTRY_URL: ctx.registryUrl! } : {}),
  ...extraFerryEnv,
});

export interface FerrySettings {
  batchSize?: number;
  concurrency?: number;
  poolSize?: number;
}

const settingsEnv = (s: FerrySettings): Record<string, string> => ({
  ...(s.batchSize ? { FERRY_BATCH_SIZE: String(s.batchSize) } : {}),
  ...(s.concurrency ? { FERRY_PARTITION_CONCURRENCY: String(s.concurrency) } : {}),
  ...(s.poolSize ? { FERRY_DATABASE_POOL_SIZE: String(s.poolSize) } : {}),
});

let seq = 0;

/**
 * Writes a `kind` handler called `name` on `topic` into a directory of its own and starts Ferry
 * on it, in the run's group prefix; `stop()` stops Ferry, then removes the directory.
 */
function startHandler(ctx: BenchContext, name: string, kind: HandlerKind, topic: string, table: string, settings: FerrySettings) {
  const dir = writeHandlerDir(name, handlerSource(kind, topic, table, ctx.format));
  const ferry = startFerry({
    binary: ctx.binary,
    handlersDir: dir,
    handlerName: name,
    groupPrefix: `bench-${ctx.runId}`,
    brokers: ctx.brokers,
    databaseUrl: ctx.databaseUrl,
    database: ctx.database,
    env: ferryEnv(ctx, settings),
  });
  return {
    ferry,
    async stop() {
      await ferry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FerryDrainResult extends Drain {
  /** Effect rows written (must equal the distinct events for `each` and `batch` once drained). */
  effects: number | null;
  /** Whether every record was handled (false: stopped after `maxSeconds`). */
  drained: boolean;
  warnings: number;
}

/** Ferry drains a pre-loaded topic of `total` records with a `kind` handler. */
export async function ferryDrain(
  ctx: BenchContext,
  kind: HandlerKind,
  topic: string,
  total: number,
  table: string,
  settings: FerrySettings = {},
  maxSeconds = Infinity,
): Promise<FerryDrainResult> {
  const { ferry, stop } = startHandler(ctx, `orders_${kind}_${++seq}`, kind, topic, table, settings);
  try {
    const drain = await measureDrain(ferry, ctx.sql, topic, total, { maxSeconds });
    const effects = kind === "noop" ? null : (await ctx.sql<{ n: number }[]>`select count(*)::int as n from ${ctx.sql(table)}`)[0]!.n;
    return { ...drain, effects, drained: drain.records >= total, warnings: ferry.problems().length };
  } finally {
    await stop();
  }
}

export interface PacedResult {
  offeredPerS: number;
  achievedPerS: number;
  records: number;
  latency: Latency;
  /** The same records read by a bare librdkafka consumer at the same time: Kafka's own share. */
  kafkaFloor: Latency;
  /** Worker, PostgreSQL and machine CPU while producing at the offered rate. */
  usage: Drain["usage"];
  peakRssMb: number;
}

/**
 * Ferry runs, caught up, on an empty topic; a paced producer then offers `ratePerS` for
 * `seconds`. Latency is read from the effects rows produced after a warm-up of 2 s.
 */
export async function ferryPaced(
  ctx: BenchContext,
  kind: HandlerKind,
  partitions: number,
  ratePerS: number,
  seconds: number,
  table: string,
  workloadOptions: Omit<WorkloadOptions, "count">,
  settings: FerrySettings = {},
): Promise<PacedResult> {
  const { topic, serialize } = await benchTopic(ctx, "bench-paced", partitions);
  const { ferry, stop } = startHandler(ctx, `orders_paced_${++seq}`, kind, topic, table, settings);
  const probe = spawnChild("raw.ts", { brokers: ctx.brokers, topic, total: 0, batchSize: 500, concurrency: partitions, latency: true }, ctx.database);
  try {
    await Promise.all([ferry.waitForLog("partitions:assigned"), probe.waitFor("ready")]);
    const warmUpUntil = new Date(Date.now() + 2_000);
    const startPerf = performance.now();
    const records = workload(topic, topic, { ...workloadOptions, serialize, count: Math.ceil(ratePerS * seconds * 1.2) });
    const produced = await ctx.kafka.producePaced(records, ratePerS, seconds);
    const endPerf = performance.now();
    const total = await ctx.kafka.endOffsets(topic);
    await measureDrain(ferry, ctx.sql, topic, total, { timeoutMs: 120_000 });
    probe.send({ since: warmUpUntil.getTime() });
    const floor = await probe.result();
    return {
      kafkaFloor: floor.latency!,
      offeredPerS: ratePerS,
      achievedPerS: produced.achievedPerS,
      records: produced.records,
      latency: await readLatency(ctx.sql, table, warmUpUntil),
      usage: ferry.sampler.usage(startPerf + 2_000, endPerf),
      peakRssMb: ferry.sampler.usage(startPerf, endPerf).peakRssMb,
    };
  } finally {
    probe.kill();
    await stop();
  }
}

export function rawCeiling(
  ctx: BenchContext,
  topic: string,
  total: number,
  settings: Required<Pick<FerrySettings, "batchSize" | "concurrency">>,
): Promise<ChildResult> {
  return runChild("raw.ts", { brokers: ctx.brokers, topic, total, batchSize: settings.batchSize, concurrency: settings.concurrency }, ctx.database);
}

export function naiveConsumer(ctx: BenchContext, topic: string, table: string, seconds: number, concurrency: number): Promise<ChildResult> {
  return runChild("naive.ts", { brokers: ctx.brokers, topic, databaseUrl: ctx.databaseUrl, table, seconds, concurrency, format: ctx.format }, ctx.database);
}
