/**
 * A `ferry dev --json` process (started directly or through scripts/quickstart.sh): its JSON
 * lines on standard output, and a wait for the first one that matches.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { waitFor } from "./wait.ts";

export interface DevLine {
  event: string;
  [field: string]: unknown;
}

export interface DevProcess {
  dataDir: string;
  lines: DevLine[];
  output(): string;
  waitFor(what: string, match: (line: DevLine) => boolean, timeoutMs?: number): Promise<DevLine>;
  /** SIGINT, as Ctrl-C; resolves with the exit code. */
  stop(): Promise<number>;
  cleanup(): void;
}

/** Environment for a dev process of its own: a fresh data directory, any free port, JSON output. */
export function devEnv(dataDir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    TMPDIR: process.env.TMPDIR ?? "/tmp",
    FERRY_DEV_DATA_DIR: dataDir,
    FERRY_HTTP_PORT: "0",
    FERRY_DEV_FORMAT: "json",
  };
}

export function startDevProcess(command: string[], { cwd, env = {} }: { cwd: string; env?: Record<string, string> }): DevProcess {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-dev-test-"));
  const proc = Bun.spawn(command, { cwd, env: { ...devEnv(dataDir), ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: DevLine[] = [];
  let raw = "";
  const pump = async (stream: ReadableStream<Uint8Array>, parse: boolean) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      if (!parse) continue;
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith("{")) lines.push(JSON.parse(line) as DevLine);
      }
    }
  };
  void pump(proc.stdout, true);
  void pump(proc.stderr, false);
  return {
    dataDir,
    lines,
    output: () => raw,
    waitFor(what, match, timeoutMs = 120_000) {
      return waitFor(
        what,
        () => {
          if (proc.exitCode !== null) throw new Error(`ferry dev exited with ${proc.exitCode}:\n${raw.slice(-3000)}`);
          return lines.find(match);
        },
        { timeoutMs, intervalMs: 100 },
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n--- output ---\n${raw.slice(-3000)}`);
      });
    },
    async stop() {
      proc.kill("SIGINT");
      return proc.exited;
    },
    cleanup() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
