/**
 * CPU and memory from /proc, sampled while a scenario runs: the process under test, the
 * PostgreSQL backends serving the benchmark's database, and the whole machine (the other work
 * sharing the 2 cores is part of every figure, so it is reported beside it).
 */
import { readdirSync, readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = 100; // getconf CLK_TCK on Linux x86_64

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** utime + stime of a process, in ticks; null once it has exited. */
export function cpuTicks(pid: number): number | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** VmRSS and VmHWM (peak) of a process, in MB. */
export function memoryMb(pid: number): { rss: number; hwm: number } | null {
  const status = read(`/proc/${pid}/status`);
  if (status === null) return null;
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

/**
 * PostgreSQL backends connected to `database` (their process title names it), but for the
 * bench's own (`benchBackends`: it polls progress while a drain is measured), and the Kafka
 * brokers' JVMs.
 */
function servicePids(database: string, benchBackends: ReadonlySet<number>): { postgres: number[]; kafka: number[] } {
  const pids = { postgres: [] as number[], kafka: [] as number[] };
  const marker = ` ${database} `;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = read(`/proc/${entry}/cmdline`);
    if (cmdline?.startsWith("postgres: ") && cmdline.includes(marker)) {
      if (!benchBackends.has(Number(entry))) pids.postgres.push(Number(entry));
    } else if (cmdline?.includes("\0kafka.Kafka\0")) pids.kafka.push(Number(entry));
  }
  return pids;
}

/** Busy and total ticks of the whole machine (all cores), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const cpu = read("/proc/stat")!.split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3]! + cpu[4]!; // idle + iowait
  return { busy: total - idle, total };
}

export interface Usage {
  seconds: number;
  /** Cores used on average by the process under test (1.0 = one core busy). */
  processCores: number;
  /** Cores used by the PostgreSQL backends of the benchmark's database. */
  postgresCores: number;
  /** Cores used by the three Kafka brokers (shared: other work on the machine uses them too). */
  kafkaCores: number;
  /** Cores busy on the whole machine, the above included. */
  machineCores: number;
  /** Peak resident memory of the process (VmHWM), MB. */
  peakRssMb: number;
  /** Largest VmRSS seen while sampling, MB. */
  sampledRssMb: number;
}

/**
 * Samples every `intervalMs` until `stop()`; `usage(from, to)` gives the averages between two
 * moments (performance.now() values), using the samples nearest to them.
 */
export function startSampler(pid: number, database: string, { intervalMs = 200, benchBackends = new Set<number>() as ReadonlySet<number> } = {}) {
  interface Sample {
    at: number;
    proc: number;
    pg: number;
    kafka: number;
    busy: number;
    total: number;
  }
  const samples: Sample[] = [];
  const last = new Map<number, number>();
  const sums = { postgres: 0, kafka: 0 };
  let procLast = 0;
  let peakRss = 0;
  let hwm = 0;
  const take = () => {
    // Ticks are accumulated as deltas, so backends that come and go are counted.
    const pids = servicePids(database, benchBackends);
    for (const group of ["postgres", "kafka"] as const) {
      for (const b of pids[group]) {
        const t = cpuTicks(b);
        if (t === null) continue;
        sums[group] += t - (last.get(b) ?? t);
        last.set(b, t);
      }
    }
    procLast = cpuTicks(pid) ?? procLast;
    const mem = memoryMb(pid);
    if (mem) {
      peakRss = Math.max(peakRss, mem.rss);
      hwm = Math.max(hwm, mem.hwm);
    }
    samples.push({ at: performance.now(), proc: procLast, pg: sums.postgres, kafka: sums.kafka, ...machineTicks() });
  };
  // Backends that exist already start from their current ticks.
  take();
  const timer = setInterval(take, intervalMs);
  const nearest = (at: number) => samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
  return {
    stop() {
      take();
      clearInterval(timer);
    },
    usage(from: number, to: number): Usage {
      const a = nearest(from);
      const b = nearest(to);
      const seconds = Math.max(0.001, (b.at - a.at) / 1000);
      const cores = (ticks: number) => ticks / CLOCK_TICKS_PER_S / seconds;
      return {
        seconds,
        processCores: cores(b.proc - a.proc),
        postgresCores: cores(b.pg - a.pg),
        kafkaCores: cores(b.kafka - a.kafka),
        // /proc/stat sums every core's ticks: busy share × number of cores.
        machineCores: ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * navigatorCores(),
        peakRssMb: hwm,
        sampledRssMb: peakRss,
      };
    },
  };
}

function navigatorCores(): number {
  return read("/proc/cpuinfo")?.match(/^processor\s*:/gm)?.length ?? 1;
}

/** The 1-minute load average, as `uptime` prints it. */
export function loadAverage(): string {
  return read("/proc/loadavg")?.split(" ").slice(0, 3).join(" ") ?? "?";
}
