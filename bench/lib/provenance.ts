/**
 * What a figure needs to travel: the commit it was measured at (and whether the tree had
 * uncommitted changes), when, on what machine, how loaded the machine was before and after, and
 * the command that reproduces it. Every RESULT line and results table of the bench carries it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadAverage } from "./proc-stats.ts";

const root = path.join(import.meta.dir, "../..");

export interface Provenance {
  commit: string;
  dirty: boolean;
  startedAt: Date;
  nproc: number;
  cpuModel: string;
  memoryGb: number;
  loadBefore: string;
  command: string;
}

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "";
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  return {
    nproc: cpuinfo.match(/^processor\s*:/gm)?.length ?? 0,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGb: Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024 / 1024,
  };
}

/** The command line that ran this script, as one could type it again from the repository root. */
function commandLine(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  const script = path.relative(root, process.argv[1] ?? "");
  // Settings that change what is measured are part of the command.
  const env = ["BENCH_FERRY_ENV"].filter((k) => process.env[k]).map((k) => `${k}=${quote(process.env[k]!)}`);
  return [...env, "bun", script, ...process.argv.slice(2)].map((a, i) => (i < env.length ? a : quote(a))).join(" ");
}

/**
 * The commit a ready-made binary was built at, from `ferry --version` ("commit 38b18096fd73-dirty"):
 * with --no-build or --binary the checkout's HEAD says nothing about what ran.
 */
function builtAt(binary: string): { commit: string; dirty: boolean } | undefined {
  const r = Bun.spawnSync([path.resolve(root, binary), "--version"], { stdout: "pipe", stderr: "pipe" });
  const m = r.exitCode === 0 ? /commit ([0-9a-f]{7,40})(-dirty)?/.exec(r.stdout.toString()) : null;
  return m ? { commit: m[1]!.slice(0, 7), dirty: m[2] !== undefined } : undefined;
}

/**
 * Taken when a run starts; `loadBefore` is the load average at that moment. `binary`: the ferry
 * binary the run uses as it is (not built by the run), whose own commit is the one to name.
 */
export function provenance(binary?: string): Provenance {
  const built = binary ? builtAt(binary) : undefined;
  return {
    commit: built?.commit ?? (git("rev-parse", "--short", "HEAD") || "unknown"),
    // Untracked files count: a new source file changes what is built.
    dirty: built?.dirty ?? git("status", "--porcelain") !== "",
    startedAt: new Date(),
    ...machine(),
    loadBefore: loadAverage(),
    command: commandLine(),
  };
}

const iso = (d: Date) => `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** `key=value` fields for a RESULT line (values with spaces quoted). */
export function provenanceFields(p: Provenance, loadAfter: string): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    `commit=${p.commit}`,
    `dirty=${p.dirty ? "yes" : "no"}`,
    `date=${p.startedAt.toISOString().slice(0, 19)}Z`,
    `nproc=${p.nproc}`,
    `cpu=${q(p.cpuModel)}`,
    `mem_gb=${p.memoryGb.toFixed(1)}`,
    `load_before=${q(p.loadBefore)}`,
    `load_after=${q(loadAfter)}`,
    `cmd=${q(p.command)}`,
  ].join(" ");
}

/** The same facts as a paragraph to paste above a results table. */
export function provenanceText(p: Provenance, loadAfter: string): string {
  return [
    `Commit \`${p.commit}\`${p.dirty ? " **with uncommitted changes**" : ""}, ${iso(p.startedAt)} to ${iso(new Date())};`,
    `${p.nproc} cores (${p.cpuModel}), ${p.memoryGb.toFixed(1)} GB, shared with the Kafka brokers and PostgreSQL;`,
    `load average ${p.loadBefore} before, ${loadAfter} after. Reproduce: \`source .services/env && ${p.command}\``,
  ].join(" ");
}
