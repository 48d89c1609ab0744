import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** The long variants (FERRY_FAULTS_LONG=1): more events, more faults; see docs/reliability.md. */
export const long = process.env.FERRY_FAULTS_LONG === "1";

/** The seed of this run's random choices (which fault, when): set FERRY_FAULTS_SEED to replay a run. */
export const seed = Number(process.env.FERRY_FAULTS_SEED ?? Math.floor(Math.random() * 1_000_000));

/**
 * Prints one scenario's counts as a `fault-report {json}` line, and appends the JSON to
 * $FERRY_FAULTS_REPORT when set: docs/reliability.md is written from these lines.
 */
export function reportCounts(scenario: string, counts: Record<string, unknown>): void {
  const line = JSON.stringify({ scenario, seed, long, ...counts });
  console.log(`fault-report ${line}`);
  const file = process.env.FERRY_FAULTS_REPORT;
  if (file) appendFileSync(file, `${line}\n`);
}

/** Keeps a worker's whole output for a post-mortem: $FERRY_FAULTS_LOG_DIR (default <tmp>/ferry-faults-logs)/<name>.log. */
export function keepLog(name: string, text: string): string {
  const dir = process.env.FERRY_FAULTS_LOG_DIR ?? path.join(tmpdir(), "ferry-faults-logs");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.log`);
  writeFileSync(file, text);
  return file;
}
