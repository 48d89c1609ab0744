import type { FerryConfig } from "../config/load.ts";
import type { Engine } from "../engine.ts";
import { createEngineEvents, type EngineEvents } from "../engine-events.ts";
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { AdminDeps } from "./app.ts";
import { createMetrics } from "./metrics.ts";
import { buildInfo } from "../build-info.ts";
import { librdkafkaVersion } from "../kafka/confluent.ts";
import { trackProgress } from "./progress.ts";

const inboxCacheMs = 10_000;

/**
 * The subscribers of a running worker: metrics and progress tracking listen from before the engine
 * starts (so no early event is missed); `adminDeps` then hands the HTTP app what it may read and call.
 */
export function createOperations(config: FerryConfig, log: Logger): { events: EngineEvents; adminDeps(engine: Engine): AdminDeps } {
  const events = createEngineEvents((name, e) => log.error("events:listener-failed", { event: name, error: coerceError(e) }));
  const progress = trackProgress(events, config.healthStallMs);
  let engine: Engine | undefined;
  // A count over the inbox is not free: scrapes within 10 s share one.
  let inbox: { at: number; rows: Promise<Array<{ handler: string; rows: number }>> } | undefined;
  const metrics = createMetrics(events, {
    processMetrics: true,
    build: buildInfo(librdkafkaVersion()),
    handlers: () => engine?.controls.listHandlers(),
    stalled: () => (engine?.workers ?? []).flatMap((w) => w.stalled().map((s) => ({ handler: w.handler.name, topic: s.topic, partition: s.partition }))),
    outbox: () => engine?.controls.outbox(),
    inboxRows() {
      if (!engine) return undefined;
      if (!inbox || Date.now() - inbox.at > inboxCacheMs) inbox = { at: Date.now(), rows: engine.controls.inboxRows() };
      return inbox.rows;
    },
  });
  return {
    events,
    adminDeps(running) {
      engine = running;
      return {
        liveness() {
          const report = running.liveness();
          const { stalled, ...detail } = progress.report();
          return { ...report, ok: report.ok && stalled.length === 0, reasons: [...report.reasons, ...stalled], ...detail };
        },
        readiness: () => running.readiness(),
        // Each dependency check gets the check timeout and they run in parallel: the answer takes about that long at worst.
        readinessTimeoutMs: config.health.checkTimeoutMs + 500,
        metrics,
        ...(config.admin.enabled ? { admin: { controls: running.controls, ...(config.admin.token ? { token: config.admin.token } : {}) } } : {}),
      };
    },
  };
}
