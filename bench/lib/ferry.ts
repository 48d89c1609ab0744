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
  groupId: string;
  handlerName: string;
  waitForLog(msg: string, timeoutMs?: number): Promise<void>;
  /** Warnings and errors logged so far. */
  problems(): Array<Record<string, unknown>>;
  sampler: ReturnType<typeof startSampler>;
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
  env?: Record<string, string>;
}

/** Starts ferry the way the tests do (tests/support/ferry-process.ts) and samples its CPU and memory from the start. */
export function startFerry(options: FerryStart): FerryProcess {
  // BENCH_FERRY_LOG_DIR=<dir> keeps every process's log lines, for looking into a run.
  const logFile = process.env.BENCH_FERRY_LOG_DIR ? path.join(process.env.BENCH_FERRY_LOG_DIR, `${options.handlerName}.log`) : undefined;
  const ferry = spawnFerry(
    ["run", "--handlers", options.handlersDir, "--group-prefix", options.groupPrefix],
    { FERRY_KAFKA_BROKERS: options.brokers, FERRY_DATABASE_URL: options.databaseUrl, ...options.env },
    { binary: options.binary, onLine: logFile ? (line) => appendFileSync(logFile, `${line}\n`) : undefined },
  );
  const { proc } = ferry;
  return {
    pid: proc.pid,
    groupId: `${options.groupPrefix}.${options.handlerName}`,
    handlerName: options.handlerName,
    sampler: startSampler(proc.pid, options.database),
    problems: () => ferry.logs.filter((l) => l.level === "warn" || l.level === "error"),
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
  seconds: number;
  eventsPerS: number;
  usage: Usage;
}

/**
 * Waits until the group's offsets in PostgreSQL sum to `total` (every record handled, duplicates
 * and dead letters included), or until `maxSeconds` have passed since the first inbox
 * transaction: then the records handled so far count. The window starts at the first inbox
 * transaction (process start, group join and the first fetch are left out) and ends when the
 * offsets are read (every 20 ms).
 */
export async function measureDrain(
  ferry: FerryProcess,
  sql: postgres.Sql,
  topic: string,
  total: number,
  { timeoutMs = 600_000, maxSeconds = Infinity } = {},
): Promise<Drain> {
  const deadline = Date.now() + timeoutMs;
  let first: number | undefined;
  let records = 0;
  for (;;) {
    const [row] = await sql<
      { n: string }[]
    >`select coalesce(sum(next_offset), 0)::text as n from ferry_offsets where group_id = ${ferry.groupId} and topic = ${topic}`;
    records = Number(row!.n);
    if (records >= total) break;
    if (first === undefined && records > 0) {
      const [f] = await sql<{ at: Date | null }[]>`select min(received_at) as at from ferry_inbox where handler = ${ferry.handlerName}`;
      first = f!.at?.getTime();
    }
    if (first !== undefined && (Date.now() - first) / 1000 >= maxSeconds) break;
    if (Date.now() > deadline) throw new Error(`ferry handled ${records} of ${total} records within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
  const endPerf = performance.now();
  const endWall = Date.now();
  const [f] = await sql<{ at: Date }[]>`select min(received_at) as at from ferry_inbox where handler = ${ferry.handlerName}`;
  const seconds = (endWall - f!.at.getTime()) / 1000;
  return { records, seconds, eventsPerS: records / seconds, usage: ferry.sampler.usage(endPerf - seconds * 1000, endPerf) };
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
