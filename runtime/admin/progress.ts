import type { EngineEvents } from "../engine-events.ts";

export interface ProgressReport {
  /** Why the consume loop is not making progress; empty when it is, or is idle by design. */
  stalled: string[];
  batchesInFlight: number;
  /** When a batch last finished, ISO time; null before the first. */
  lastBatchAt: string | null;
}

/**
 * Liveness from the engine's events: the consume loop is alive while no batch has been running
 * longer than `stallMs` without progress (a key-concurrent batch reports it as its events finish). No batches at all is idle by design (nothing to read, or paused), not a stall.
 */
export function trackProgress(events: EngineEvents, stallMs: number, now: () => number = Date.now): { report(): ProgressReport } {
  const inFlight = new Map<string, number>();
  let lastBatchAt: number | null = null;
  const key = (p: { handler: string; topic: string; partition: number }) => `${p.handler} ${p.topic}/${p.partition}`;
  const finish = (p: { handler: string; topic: string; partition: number }) => {
    inFlight.delete(key(p));
    lastBatchAt = now();
  };
  events.on("batch:started", (p) => inFlight.set(key(p), now()));
  // A key-concurrent batch is alive while its events keep finishing: its clock starts again.
  events.on("batch:progressed", (p) => {
    if (inFlight.has(key(p))) inFlight.set(key(p), now());
  });
  events.on("batch:applied", finish);
  events.on("batch:failed", finish);
  // A consume loop that died delivers nothing more: not alive until the handler is started anew.
  const failed = new Map<string, string>();
  events.on("consumer:failed", ({ handler, message }) => failed.set(handler, message));
  const restarted = ({ handler }: { handler: string }) => {
    failed.delete(handler);
    // A removed or swapped handler's batches are over, whatever their last event said.
    for (const k of inFlight.keys()) if (k.startsWith(`${handler} `)) inFlight.delete(k);
  };
  events.on("handler:removed", restarted);
  events.on("handler:replaced", restarted);
  events.on("handler:added", restarted);
  return {
    report() {
      const t = now();
      const stalled = [...inFlight]
        .filter(([, since]) => t - since > stallMs)
        .map(
          ([k, since]) =>
            `handler ${k.replace(" ", ": batch of ")} has been running for ${Math.round((t - since) / 1000)} s (limit ${Math.round(stallMs / 1000)} s)`,
        )
        .concat([...failed].map(([handler, message]) => `handler ${handler}: its consume loop failed: ${message}`));
      return { stalled, batchesInFlight: inFlight.size, lastBatchAt: lastBatchAt === null ? null : new Date(lastBatchAt).toISOString() };
    },
  };
}
