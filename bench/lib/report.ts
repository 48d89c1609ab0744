/** The results as a Markdown table, ready to paste into bench/README.md. */
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
    "| scenario | events/s | records | s | process CPU (cores) | µs CPU/event | PostgreSQL CPU (cores) | µs CPU/event incl. PostgreSQL | Kafka brokers CPU (cores, shared) | machine busy (of 2) | peak RSS MB |";
  const lines = rows.map((r) => {
    const u = r.usage;
    const perEvent = (cores: number) => (r.eventsPerS > 0 ? (cores / r.eventsPerS) * 1e6 : 0);
    return `| ${r.scenario} | ${n(r.eventsPerS)} | ${n(r.records)} | ${n(r.seconds, 1)} | ${n(u.processCores, 2)} | ${n(perEvent(u.processCores), 1)} | ${n(u.postgresCores, 2)} | ${n(perEvent(u.processCores + u.postgresCores), 1)} | ${n(u.kafkaCores, 2)} | ${n(u.machineCores, 2)} | ${n(u.peakRssMb)} |`;
  });
  return [header, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|", ...lines].join("\n");
}
