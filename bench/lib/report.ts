/** The results as a Markdown table, ready to paste into bench/README.md. */
import type { Drain } from "./ferry.ts";
import type { Usage } from "./proc-stats.ts";

export interface Row {
  scenario: string;
  eventsPerS: number;
  records: number;
  seconds: number;
  usage: Usage;
  kind?: string;
  effects?: number | null;
  warnings?: number;
}

const n = (x: number, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function formatTable(rows: Row[]): string {
  const header =
    "| scenario | events/s | records | s | process CPU (cores) | µs CPU/event | PostgreSQL CPU (cores) | µs CPU/event incl. PostgreSQL | Kafka brokers CPU (cores, shared) | machine busy (cores) | peak RSS MB |";
  const lines = rows.map((r) => {
    const u = r.usage;
    const perEvent = (cores: number) => (r.eventsPerS > 0 ? (cores / r.eventsPerS) * 1e6 : 0);
    return `| ${r.scenario} | ${n(r.eventsPerS)} | ${n(r.records)} | ${n(r.seconds, 1)} | ${n(u.processCores, 2)} | ${n(perEvent(u.processCores), 1)} | ${n(u.postgresCores, 2)} | ${n(perEvent(u.processCores + u.postgresCores), 1)} | ${n(u.kafkaCores, 2)} | ${n(u.machineCores, 2)} | ${n(u.peakRssMb)} |`;
  });
  return [header, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|", ...lines].join("\n");
}

/** The median; of an even count, the mean of the middle two. */
export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The `q` quantile (0-1) by the nearest rank below; NaN of nothing. */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** One drain of the Ferry vs peer alternation, with the load average when it ended. */
export interface Round {
  round: number;
  system: "ferry" | "peer";
  drain: Drain;
  load: string;
}

/** µs of CPU per event over the drain from the process's start: the process's own and PostgreSQL's. */
export function cpuPerEvent(d: Drain) {
  const per = (cores: number) => (cores * d.fromStart.seconds * 1e6) / d.records;
  const process = per(d.fromStart.usage.processCores);
  const postgres = per(d.fromStart.usage.postgresCores);
  return { process, postgres, total: process + postgres };
}

export function formatRounds(rounds: Round[]): string {
  const header =
    "| round | system | events/s from start | events/s steady | s from start | s before the first transaction | µs CPU/event process | µs CPU/event PostgreSQL | µs CPU/event process + PostgreSQL | peak RSS MB | machine busy (cores) | load after |";
  const lines = rounds.map(({ round, system, drain: d, load }) => {
    const cpu = cpuPerEvent(d);
    return `| ${round} | ${system} | ${n(d.fromStart.eventsPerS)} | ${n(d.eventsPerS)} | ${n(d.fromStart.seconds, 1)} | ${n(d.fromStart.seconds - d.seconds, 1)} | ${n(cpu.process, 1)} | ${n(cpu.postgres, 1)} | ${n(cpu.total, 1)} | ${n(d.fromStart.usage.peakRssMb)} | ${n(d.fromStart.usage.machineCores, 2)} | ${load} |`;
  });
  return [header, "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|", ...lines].join("\n");
}
