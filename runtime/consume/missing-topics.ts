/**
 * Topics a handler consumes that do not exist yet. librdkafka would notice a new topic only at its
 * next metadata refresh (topic.metadata.refresh.interval.ms, 5 minutes), so Ferry looks itself, every
 * few seconds and only while some topic is missing. When one appears, the engine gives it its dead
 * letter topic and subscribes its handlers again, which makes their consumers read metadata now.
 */
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

/** How often missing topics are looked up (one admin metadata request for all of them). */
export const MISSING_TOPIC_CHECK_MS = 2_000;

export interface MissingTopicsWatch {
  /** Watches these topics until they exist (a topic already watched keeps its start time). */
  add(topics: string[]): void;
  /** The topics still missing. */
  missing(): string[];
  stop(): void;
}

export function watchMissingTopics(deps: {
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  /** A topic exists now. A failure keeps it watched: it is tried again at the next look. */
  onAppeared(topic: string, waitedMs: number): Promise<void>;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}): MissingTopicsWatch {
  const { log, intervalMs = MISSING_TOPIC_CHECK_MS, now = Date.now } = deps;
  const since = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let failing = false;

  const look = async () => {
    timer = undefined;
    if (stopped || since.size === 0) return;
    try {
      const counts = await deps.partitionCounts([...since.keys()]);
      failing = false;
      for (const [topic, from] of since) {
        if (!counts.has(topic) || stopped) continue;
        try {
          await deps.onAppeared(topic, now() - from);
          since.delete(topic);
        } catch (e) {
          log.error("topic:appeared-but-not-ready", { topic, error: coerceError(e), retryInMs: intervalMs });
        }
      }
    } catch (e) {
      // Kafka unreachable: the outage watch reports that; say it here once per streak.
      if (!failing) log.warn("topics:lookup-failed", { topics: [...since.keys()], error: coerceError(e), retryInMs: intervalMs });
      failing = true;
    }
    schedule();
  };
  const schedule = () => {
    if (stopped || timer || since.size === 0) return;
    timer = setTimeout(() => void look(), intervalMs);
    timer.unref?.();
  };

  return {
    add(topics) {
      for (const t of topics) if (!since.has(t)) since.set(t, now());
      schedule();
    },
    missing: () => [...since.keys()],
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
