/**
 * The `handler:progress` line: every FERRY_PROGRESS_INTERVAL_MS, per handler, what happened since
 * the last line (applied, skipped, dead-lettered, retries) and the lag of the partitions this worker
 * owns, so an operator sees progress at info level without asking PostgreSQL. A handler with nothing
 * done and no lag writes nothing.
 */
import type { EngineEvents } from "../engine-events.ts";
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

interface Tally {
  applied: number;
  /** Technical duplicates, and records PostgreSQL already held (a redelivery after a crash). */
  skipped: number;
  deadLettered: number;
  retries: number;
  /** Times a partition waited on the environment (database, broker, registry). */
  waits: number;
}

const empty = (): Tally => ({ applied: 0, skipped: 0, deadLettered: 0, retries: 0, waits: 0 });

export interface OwnedLag {
  handler: string;
  /** Partitions this worker owns now. */
  partitions: number;
  /** Records between PostgreSQL's next offset and the end, summed over those partitions. */
  lag: number;
}

export function logProgress(
  events: EngineEvents,
  deps: { intervalMs: number; log: Logger; ownedLag(): Promise<OwnedLag[]>; now?: () => number },
): { report(): Promise<void>; stop(): void } {
  const { log, now = Date.now } = deps;
  const tallies = new Map<string, Tally>();
  const tally = (handler: string) => {
    let t = tallies.get(handler);
    if (!t) tallies.set(handler, (t = empty()));
    return t;
  };
  const offs = [
    events.on("batch:applied", (b) => {
      const t = tally(b.handler);
      t.applied += b.applied;
      t.skipped += b.technicalDuplicates + b.skipped;
    }),
    events.on("event:dead-lettered", (e) => void tally(e.handler).deadLettered++),
    events.on("event:retry-scheduled", (e) => void tally(e.handler).retries++),
    events.on("partition:waiting", (e) => void tally(e.handler).waits++),
  ];
  let since = now();
  let reporting = false;

  const report = async () => {
    if (reporting) return;
    reporting = true;
    try {
      let owned: OwnedLag[] = [];
      try {
        owned = await deps.ownedLag();
      } catch (e) {
        log.debug("progress:lag-unavailable", { error: coerceError(e) });
      }
      const at = now();
      const sinceMs = at - since;
      const handlers = new Set([...tallies.keys(), ...owned.map((o) => o.handler)]);
      for (const handler of handlers) {
        const t = tallies.get(handler) ?? empty();
        const lag = owned.find((o) => o.handler === handler);
        const busy = t.applied + t.skipped + t.deadLettered + t.retries + t.waits > 0;
        if (!busy && !lag?.lag) continue;
        log.info("handler:progress", {
          handler,
          ...t,
          perSecond: Math.round((t.applied * 10_000) / Math.max(1, sinceMs)) / 10,
          ...(lag ? { lag: lag.lag, partitions: lag.partitions } : {}),
          sinceMs,
        });
      }
      tallies.clear();
      since = at;
    } finally {
      reporting = false;
    }
  };
  const timer = setInterval(() => void report(), deps.intervalMs);
  timer.unref?.();
  return {
    report,
    stop() {
      clearInterval(timer);
      for (const off of offs) off();
    },
  };
}
