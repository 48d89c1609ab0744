/**
 * The measured scenarios, shared by bench/run.ts and bench/sweep.ts. Each gets its own handler
 * name (so its own inbox rows, business keys and consumer group) over a topic the caller loaded.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type postgres from "postgres";
import { runChild, spawnChild, type ChildResult } from "./child.ts";
import { measureDrain, measureProgress, readLatency, startFerry, type Drain, type Latency } from "./ferry.ts";
import { orderSchemaText, type BenchAvro } from "./avro.ts";
import { effectsTableSql, handlerSource, writeHandlerDir, type HandlerKind, type ValueFormat } from "./handlers.ts";
import { preparePeerSchema, startPeer } from "./peer.ts";
import type { BenchKafka } from "./kafka.ts";
import { json, workload, type Serialize, type WorkloadOptions, type WorkloadShape } from "./workload.ts";

export interface BenchContext {
  binary: string;
  brokers: string;
  databaseUrl: string;
  database: string;
  sql: postgres.Sql;
  /** The bench's own PostgreSQL backends (it polls progress during a drain): not counted as PostgreSQL's CPU. */
  benchBackends: Set<number>;
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

export const ferryEnv = (ctx: BenchContext, settings: FerrySettings) => ({
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
    benchBackends: ctx.benchBackends,
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

/** What a drain left behind, to check it was exact (see `checkExact`). */
export interface Outcome {
  /** Effect rows written (null for the no-op handler, which writes none). */
  effects: number | null;
  /** Effect rows applied from a functional duplicate's event (must be 0: the first event of an order wins). */
  effectsFromDuplicates: number | null;
  /** Inbox rows written: one per distinct event id. */
  inbox: number;
  /** Records that arrived on the dead letter topic during the drain. */
  deadLetters: number;
}

export interface FerryDrainResult extends Drain, Outcome {
  /** Whether every record was handled (false: stopped after `maxSeconds`). */
  drained: boolean;
  warnings: number;
}

/** Effect rows, and how many came from a functional duplicate's event (their ids hold `-f-`, see workload.ts). */
async function effectCounts(sql: postgres.Sql, table: string) {
  const [row] = await sql<{ n: number; dup: number }[]>`
    select count(*)::int as n, (count(*) filter (where event_id like '%-f-%'))::int as dup from ${sql(table)}`;
  return { effects: row!.n, effectsFromDuplicates: row!.dup };
}

/**
 * Exactly once in effect, checked the same way for Ferry and the peer after a full drain: one
 * effect row per order, none from a functional duplicate, one inbox row per distinct event id,
 * one dead letter per functional duplicate.
 */
export function checkExact(name: string, r: Outcome, shape: WorkloadShape) {
  const problems: string[] = [];
  if (r.effects !== null && r.effects !== shape.distinct) problems.push(`${r.effects} effect rows, expected ${shape.distinct}`);
  if (r.effectsFromDuplicates) problems.push(`${r.effectsFromDuplicates} effect rows from functional duplicates`);
  const ids = shape.records - shape.technicalDuplicates;
  if (r.inbox !== ids) problems.push(`${r.inbox} inbox rows, expected ${ids}`);
  if (r.deadLetters !== shape.functionalDuplicates) problems.push(`${r.deadLetters} dead letters, expected ${shape.functionalDuplicates}`);
  if (problems.length > 0) throw new Error(`${name} is not exact: ${problems.join("; ")}`);
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
  const name = `orders_${kind}_${++seq}`;
  const lettersBefore = await ctx.kafka.endOffsets(`${topic}.dlt`);
  const { ferry, stop } = startHandler(ctx, name, kind, topic, table, settings);
  try {
    const drain = await measureDrain(ferry, ctx.sql, topic, total, { maxSeconds });
    const effects = kind === "noop" ? { effects: null, effectsFromDuplicates: null } : await effectCounts(ctx.sql, table);
    const [inbox] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from ferry_inbox where handler = ${name}`;
    const deadLetters = (await ctx.kafka.endOffsets(`${topic}.dlt`)) - lettersBefore;
    return { ...drain, ...effects, inbox: inbox!.n, deadLetters, drained: drain.records >= total, warnings: ferry.problems().length };
  } finally {
    await stop();
  }
}

export type PeerDrainResult = Drain & Outcome;

/**
 * The peer (bench/peer/) drains the same pre-loaded topic in a group and a PostgreSQL schema of
 * its own. Its progress is its group's offsets committed to Kafka (it commits after each poll's
 * transactions); its first transaction is its first inbox row.
 */
export async function peerDrain(ctx: BenchContext, peer: { jar: string; java: string }, topic: string, total: number): Promise<PeerDrainResult> {
  const n = ++seq;
  const schema = `peer_${n}`;
  const groupId = `bench-${ctx.runId}.peer_${n}`;
  await preparePeerSchema(ctx.sql, schema, effectsTableSql);
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-bench-peer-"));
  const readerSchemaFile = path.join(dir, "bench-order.avsc");
  writeFileSync(readerSchemaFile, orderSchemaText);
  const lettersBefore = await ctx.kafka.endOffsets(`${topic}.dlt`);
  const logDir = process.env.BENCH_FERRY_LOG_DIR;
  const p = startPeer({
    ...peer,
    brokers: ctx.brokers,
    topic,
    groupId,
    databaseUrl: ctx.databaseUrl,
    schema,
    database: ctx.database,
    benchBackends: ctx.benchBackends,
    format: ctx.format,
    ...(ctx.format === "avro" ? { registryUrl: ctx.registryUrl!, readerSchemaFile } : {}),
    ...(logDir ? { logFile: path.join(logDir, `${schema}.log`) } : {}),
  });
  try {
    const drain = await measureProgress(
      {
        handled: () => ctx.kafka.committed(groupId, topic),
        async firstAt() {
          const [f] = await ctx.sql<{ at: Date | null; pid: number }[]>`select min(received_at) as at, pg_backend_pid() as pid from ${ctx.sql(schema)}.inbox`;
          ctx.benchBackends.add(f!.pid);
          return f!.at?.getTime();
        },
        checkAlive: () => p.checkAlive(),
        sampler: p.sampler,
        startedAt: p.startedAt,
      },
      total,
    );
    const effects = await effectCounts(ctx.sql, `${schema}.order_totals`);
    const [inbox] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from ${ctx.sql(schema)}.inbox`;
    const deadLetters = (await ctx.kafka.endOffsets(`${topic}.dlt`)) - lettersBefore;
    return { ...drain, ...effects, inbox: inbox!.n, deadLetters };
  } finally {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
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
