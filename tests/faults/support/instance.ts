/**
 * The fault suite's own services, beside the shared ones (services/README.md, "An isolated
 * instance"): a 3-broker Kafka whose only KRaft voter is node 1, and a throwaway PostgreSQL.
 * Only these may be killed or restarted; the shared cluster and the machine's PostgreSQL never.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dir, "../../..");
export const instance = "faults";
// 1,000 ports above the services of this run, which may be an instance of their own (scripts/test.sh).
const offset = process.env.FERRY_SERVICES_INSTANCE ? Number(process.env.FERRY_SERVICES_PORT_OFFSET ?? 1000) + 1000 : 1000;
const env = { ...process.env, FERRY_SERVICES_INSTANCE: instance, FERRY_SERVICES_PORT_OFFSET: String(offset), FERRY_KAFKA_CONTROLLERS: "1" };

/** Runs services/<script>.sh for the faults instance; returns its stdout, its stderr (what it says it did) and how long it took. */
export async function services(script: "kafka" | "postgres", ...args: string[]): Promise<{ out: string; err: string; ms: number }> {
  const started = performance.now();
  const proc = Bun.spawn([path.join(root, "services", `${script}.sh`), ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0)
    throw new Error(`services/${script}.sh ${args.join(" ")} (instance ${instance}) exited with ${code}:\n${err.slice(-3_000)}${out.slice(-1_000)}`);
  return { out: out.trim(), err, ms: Math.round(performance.now() - started) };
}

/**
 * The faults instance belongs to one test run at a time: a second run in the same checkout would
 * kill the first one's brokers. The claim names this process; a claim by a dead one is stale.
 */
export function claimInstance(): () => void {
  const file = path.join(root, ".services", instance, "run", "suite.pid");
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    const owner = Number(readFileSync(file, "utf8"));
    if (owner !== process.pid && owner > 0 && isAlive(owner)) {
      throw new Error(`the ${instance} services are in use by another test run (pid ${owner}): run the fault suite once at a time per checkout`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resident memory of the instance's processes, in MB, by service name (kafka-1, ...). */
export function residentMemoryMb(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    try {
      const pid = readFileSync(path.join(root, ".services", instance, "run", `${name}.pid`), "utf8").trim();
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      if (rss) out[name] = Math.round(Number(rss) / 1024);
    } catch {
      /* not running */
    }
  }
  return out;
}

export const faultsKafka = {
  /** A fresh cluster each run: whatever an earlier run left (another quorum, old topics) is wiped first. */
  async start() {
    await services("kafka", "stop");
    await services("kafka", "clean");
    const { ms } = await services("kafka", "start");
    return { brokers: (await services("kafka", "brokers")).out, ms };
  },
  kill: (node: 2 | 3) => services("kafka", "kill", String(node)),
  /** Starts every node that is not running and waits until all three brokers are registered again. */
  restore: () => services("kafka", "start"),
  async stop() {
    const stopped = await services("kafka", "stop");
    await services("kafka", "clean");
    return stopped;
  },
  memory: () => residentMemoryMb(["kafka-1", "kafka-2", "kafka-3"]),
  /** The pids of the running nodes, by node. */
  pids: () => [1, 2, 3].map((n) => readFileSync(path.join(root, ".services", instance, "run", `kafka-${n}.pid`), "utf8").trim()),
  /** Node n's generated configuration, and the one it was started with (kafka.sh keeps a copy). */
  configs: (n: 1 | 2 | 3) => {
    const dir = path.join(root, ".services", instance, "kafka", `node-${n}`);
    return { written: path.join(dir, "server.properties"), started: path.join(dir, "server.properties.started") };
  },
};

export const faultsPostgres = {
  async start() {
    const { ms } = await services("postgres", "ensure");
    return { url: (await services("postgres", "url")).out, ms };
  },
  createDatabase: (name: string) => services("postgres", "create-db", name),
  /** "immediate": stop without a checkpoint, as a crash would, then start (crash recovery). */
  restart: (mode: "fast" | "immediate") => services("postgres", "restart", mode),
  clean: () => services("postgres", "clean"),
};
