import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { testServices } from "./env.ts";

/** dist/ferry, or FERRY_TEST_BINARY (e.g. a build of a clean checkout while the tree is being edited). */
export const ferryBinary = process.env.FERRY_TEST_BINARY ?? path.resolve(import.meta.dir, "../../dist/ferry");

export interface FerryProcess {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Every JSON log line so far (parsed), and raw stderr text. */
  logs: Array<Record<string, unknown>>;
  output(): string;
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number>;
}

export interface StartOptions {
  binary?: string;
  cwd?: string;
  /** Called with every line the process writes, as it arrives (bench/lib/ferry.ts copies them to a file). */
  onLine?: (line: string) => void;
}

/**
 * Starts the compiled binary against this run's services. Extra env wins over the defaults.
 * The benchmark starts ferry through here too (bench/lib/ferry.ts), so there is one way to run it.
 */
export function startFerry(args: string[], env: Record<string, string> = {}, { binary = ferryBinary, cwd, onLine }: StartOptions = {}): FerryProcess {
  const services = testServices();
  const proc = Bun.spawn([binary, ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TMPDIR: process.env.TMPDIR ?? "/tmp",
      FERRY_KAFKA_BROKERS: services.brokers,
      FERRY_DATABASE_URL: services.databaseUrl,
      FERRY_LOG_LEVEL: process.env.FERRY_TEST_LOG_LEVEL ?? "info",
      FERRY_HTTP_PORT: "0",
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: Array<Record<string, unknown>> = [];
  let raw = "";
  // FERRY_TEST_LOG_DIR: every process's output also goes to <dir>/<pid>.log, to read after a failure.
  const logFile = process.env.FERRY_TEST_LOG_DIR ? path.join(process.env.FERRY_TEST_LOG_DIR, `${proc.pid}.log`) : undefined;
  if (logFile) mkdirSync(path.dirname(logFile), { recursive: true });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        onLine?.(line);
        if (logFile) appendFileSync(logFile, `${line}\n`);
        try {
          logs.push(JSON.parse(line));
        } catch {
          /* not a log line: kept in raw output */
        }
      }
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return {
    proc,
    logs,
    output: () => raw,
    exited: proc.exited,
    async waitForLog(msg, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = logs.find((l) => l.msg === msg);
        if (found) return found;
        if (proc.exitCode !== null) throw new Error(`ferry exited with ${proc.exitCode} before logging "${msg}":\n${raw.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for log line "${msg}":\n${raw.slice(-3000)}`);
        await Bun.sleep(50);
      }
    },
  };
}

/** Runs the binary to completion and returns its exit code and output. */
export async function runFerry(args: string[], env: Record<string, string> = {}, options: StartOptions = {}) {
  const p = startFerry(args, env, options);
  const code = await p.exited;
  await Bun.sleep(20);
  return { code, output: p.output() };
}
