/**
 * Runs the compiled `ferry` binary on one handler and measures it: how long the group takes to
 * move every partition to the end of the topic (read from Ferry's own offsets table), with the
 * process's CPU and memory and the PostgreSQL backends' CPU over that window.
 */
import { appendFileSync } from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { startFerry as spawnFerry } from "../../tests/support/ferry-process.ts";
import { startSampler, type Usage } from "./proc-stats.ts";

export interface FerryProcess {
  pid: number;
  /** performance.now() just before the process was spawned. */
  startedAt: number;
  groupId: string;
  handlerName: string;
  waitForLog(msg: string, timeoutMs?: number): Promise<void>;
  /** Warnings and errors logged so far. */
  problems(): Array<Record<string, unknown>>;
  sampler: ReturnType<typeof startSampler>;
  /** The bench's own PostgreSQL backends, left out of PostgreSQL's CPU; progress queries add theirs. */
  benchBackends: Set<number>;
  /** Throws when the process has exited. */
  checkAlive(): void;
  stop(): Promise<number>;
}

export interface FerryStart {
  binary: string;
  handlersDir: string;
  handlerName: string;
  groupPrefix: string;
  brokers: string;
  databaseUrl: string;
  database: string;
  benchBackends?: Set<number>;
  env?: Record<string, string>;
}

/** Starts ferry the way the tests do (tests/support/ferry-process.ts) and samples its CPU and memory from the start. */
export function startFerry(options: FerryStart): FerryProcess {
  // BENCH_FERRY_LOG_DIR=<dir> keeps every process's log lines, for looking into a run.
  const logFile = process.env.BENCH_FERRY_LOG_DIR ? path.join(process.env.BENCH_FERRY_LOG_DIR, `${options.handlerName}.log`) : undefined;
  const startedAt = performance.now();
  const ferry = spawnFerry(
    ["run", "--handlers", options.handlersDir, "--group-prefix", options.groupPrefix],
    { FERRY_KAFKA_BROKERS: options.brokers, FERRY_DATABASE_URL: options.databaseUrl, ...options.env },
    { binary: options.binary, onLine: logFile ? (line) => appendFileSync(logFile, `${line}\n`) : undefined },
  );
  const { proc } = ferry;
  const benchBackends = options.benchBackends ?? new Set<number>();
  return {
    pid: proc.pid,
    startedAt,
    groupId: `${options.groupPrefix}.${options.handlerName}`,
    handlerName: options.handlerName,
    sampler: startSampler(proc.pid, options.database, { benchBackends }),
    benchBackends,
    problems: () => ferry.logs.filter((l) => l.level === "warn" || l.level === "error"),
    checkAlive() {
      // A process killed by a signal (the OOM killer's SIGKILL) has no exit code, only a signal.
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`ferry exited with ${proc.exitCode ?? proc.signalCode}: ${ferry.output().slice(-4_000)}`);
    },
    async waitForLog(msg, timeoutMs) {
      await ferry.waitForLog(msg, timeoutMs);
    },
    async stop() {
      this.sampler.stop();
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface Drain {
  records: number;
  /** Steady state: from the first inbox transaction until the last offset. */
  seconds: number;
  eventsPerS: number;
  usage: Usage;
  /** From the process's start (start-up, group join and first fetch included) until the last offset. */
  fromStart: { seconds: number; eventsPerS: number; usage: Usage };
}

/** How a drain's progress is read: records handled so far, and when the first transaction began. */
export interface Progress {
  handled(): Promise<number>;
  /** Wall-clock ms of the first inbox row (its `received_at`, the transaction's start); undefined before. */
  firstAt(): Promise<number | undefined>;
  /** Throws when the process under test has exited. */
  checkAlive(): void;
  sampler: ReturnType<typeof startSampler>;
  /** performance.now() just before the process was spawned. */
  startedAt: number;
}

/**
 * Waits until `handled()` reaches `total` (every record handled, duplicates and dead letters
 * included), or until `maxSeconds` have passed since the first inbox transaction: then the
 * records handled so far count. Progress is read every 20 ms. Two windows end there: the steady
 * one starts at the first inbox transaction, the other at the process's start.
 */
export async function measureProgress(p: Progress, total: number, { timeoutMs = 600_000, maxSeconds = Infinity } = {}): Promise<Drain> {
  const deadline = Date.now() + timeoutMs;
  let first: number | undefined;
  let records = 0;
  for (;;) {
    records = await p.handled();
    if (records >= total) break;
    p.checkAlive();
    if (first === undefined && records > 0) first = await p.firstAt();
    if (first !== undefined && (Date.now() - first) / 1000 >= maxSeconds) break;
    if (Date.now() > deadline) throw new Error(`${records} of ${total} records handled within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
  const endPerf = performance.now();
  const endWall = Date.now();
  first = await p.firstAt();
  if (first === undefined) throw new Error("the drain ended without an inbox row");
  const seconds = (endWall - first) / 1000;
  const fromStartSeconds = (endPerf - p.startedAt) / 1000;
  return {
    records,
    seconds,
    eventsPerS: records / seconds,
    usage: p.sampler.usage(endPerf - seconds * 1000, endPerf),
    fromStart: { seconds: fromStartSeconds, eventsPerS: records / fromStartSeconds, usage: p.sampler.usage(p.startedAt, endPerf) },
  };
}

/** Ferry's progress: the group's offsets in PostgreSQL (written in each batch's transaction). */
export function measureDrain(ferry: FerryProcess, sql: postgres.Sql, topic: string, total: number, options: { timeoutMs?: number; maxSeconds?: number } = {}) {
  return measureProgress(
    {
      async handled() {
        const [row] = await sql<
          { n: string; pid: number }[]
        >`select coalesce(sum(next_offset), 0)::text as n, pg_backend_pid() as pid from ferry_offsets where group_id = ${ferry.groupId} and topic = ${topic}`;
        ferry.benchBackends.add(row!.pid);
        return Number(row!.n);
      },
      async firstAt() {
        const [f] = await sql<{ at: Date | null }[]>`select min(received_at) as at from ferry_inbox where handler = ${ferry.handlerName}`;
        return f!.at?.getTime();
      },
      checkAlive: () => ferry.checkAlive(),
      sampler: ferry.sampler,
      startedAt: ferry.startedAt,
    },
    total,
    options,
  );
}

export interface Latency {
  rows: number;
  p50: number;
  p99: number;
  max: number;
}

/** Produce timestamp → `applied_at` (clock time of the insert, inside the transaction), in ms. */
export async function readLatency(sql: postgres.Sql, table: string, since?: Date): Promise<Latency> {
  const [row] = await sql<{ rows: number; p50: number; p99: number; max: number }[]>`
    select count(*)::int as rows,
      percentile_cont(0.5) within group (order by ms) as p50,
      percentile_cont(0.99) within group (order by ms) as p99,
      max(ms) as max
    from (select extract(epoch from applied_at - produced_at) * 1000 as ms from ${sql(table)}
          where produced_at >= ${since ?? new Date(0)}) l`;
  return { rows: row!.rows, p50: Number(row!.p50), p99: Number(row!.p99), max: Number(row!.max) };
}
