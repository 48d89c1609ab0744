/**
 * Runs bench/raw.ts or bench/naive.ts in a process of its own (so its CPU and memory are
 * measured like Ferry's). They print JSON lines: `{"event": ...}` markers, then one result.
 */
import path from "node:path";
import { startSampler, type Usage } from "./proc-stats.ts";
import type { Latency } from "./ferry.ts";

export interface ChildResult {
  records: number;
  seconds: number;
  eventsPerS: number;
  latency?: Latency;
  usage: Usage;
}

export function spawnChild(script: "raw.ts" | "naive.ts", args: Record<string, unknown>, database: string) {
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, "..", script), JSON.stringify(args)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: path.join(import.meta.dir, "../.."),
  });
  const sampler = startSampler(proc.pid, database);
  const events = new Map<string, number>();
  let result: Omit<ChildResult, "usage"> | undefined;
  let resultAt = 0;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of proc.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = JSON.parse(pending.slice(0, nl)) as { event?: string } & Omit<ChildResult, "usage">;
        pending = pending.slice(nl + 1);
        if (line.event) events.set(line.event, performance.now());
        else {
          result = line;
          resultAt = performance.now();
        }
      }
    }
  })();
  const failed = async (code: number | string) => new Error(`bench/${script} exited with ${code}: ${await new Response(proc.stderr).text()}`);
  return {
    async waitFor(event: string, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!events.has(event)) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw await failed(proc.exitCode ?? proc.signalCode ?? "?");
        if (Date.now() > deadline) throw new Error(`bench/${script} did not report ${event} within ${timeoutMs} ms`);
        await Bun.sleep(20);
      }
    },
    kill() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      sampler.stop();
    },
    send(line: Record<string, unknown>) {
      proc.stdin.write(`${JSON.stringify(line)}\n`);
      proc.stdin.flush();
    },
    /** The result, with usage between the first record and the result line. */
    async result(): Promise<ChildResult> {
      await reading;
      const code = await proc.exited;
      sampler.stop();
      if (!result || code !== 0) throw await failed(code);
      return { ...result, usage: sampler.usage(events.get("first") ?? resultAt, resultAt) };
    },
  };
}

export function runChild(script: "raw.ts" | "naive.ts", args: Record<string, unknown>, database: string): Promise<ChildResult> {
  return spawnChild(script, args, database).result();
}
