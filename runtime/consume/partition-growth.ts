/**
 * Partitions added to a topic a handler consumes (`kafka-topics --alter --partitions`, the usual
 * answer to a topic that needs more throughput). librdkafka notices them only at its next metadata
 * refresh (topic.metadata.refresh.interval.ms, 5 minutes): the records produced to them meanwhile
 * waited that long. Ferry looks itself, with one admin metadata request for all consumed topics, and
 * has the handlers of a grown topic read its metadata at once (as for a topic that appeared), so
 * the group rebalances onto the new partitions, read from their start.
 */
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

/** How often the consumed topics' partition counts are looked up. */
export const PARTITION_CHECK_MS = 5_000;

export interface Growth {
  topic: string;
  from: number;
  to: number;
}

/**
 * Topics whose partition count grew since `known`. Pure. A topic seen for the first time sets its
 * count without growing; one absent now (deleted, or not there yet) is left to missing-topics.ts.
 */
export function grownTopics(known: ReadonlyMap<string, number>, now: ReadonlyMap<string, number>): Growth[] {
  const grown: Growth[] = [];
  for (const [topic, to] of now) {
    const from = known.get(topic);
    if (from !== undefined && to > from) grown.push({ topic, from, to });
  }
  return grown;
}

export function watchPartitionGrowth(deps: {
  /** The topics consumed now (hot-added handlers included). */
  topics(): string[];
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  /** A failure keeps the old count: the growth is acted on again at the next look. */
  onGrown(growth: Growth): Promise<void>;
  /** A consumed topic that existed is gone (deleted): said once; when it comes back it counts as new. */
  onGone?(topic: string): void;
  log: Logger;
  intervalMs?: number;
}): { stop(): void } {
  const { log, intervalMs = PARTITION_CHECK_MS } = deps;
  const known = new Map<string, number>();
  let stopped = false;
  let failing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const look = async () => {
    const topics = deps.topics();
    if (topics.length === 0) return;
    let counts: Map<string, number>;
    try {
      counts = await deps.partitionCounts(topics);
      failing = false;
    } catch (e) {
      // Kafka unreachable: the outage watch reports that; say it here once per streak.
      if (!failing) log.warn("topics:partition-lookup-failed", { topics, error: coerceError(e), retryInMs: intervalMs });
      failing = true;
      return;
    }
    for (const growth of grownTopics(known, counts)) {
      if (stopped) return;
      try {
        await deps.onGrown(growth);
        known.set(growth.topic, growth.to);
      } catch (e) {
        log.error("topic:partitions-added-not-taken", { ...growth, error: coerceError(e), retryInMs: intervalMs });
      }
    }
    for (const [topic, count] of counts) if (!known.has(topic)) known.set(topic, count);
    for (const topic of topics) {
      if (!known.has(topic) || counts.has(topic) || stopped) continue;
      known.delete(topic);
      deps.onGone?.(topic);
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void look().finally(schedule), intervalMs);
    timer.unref?.();
  };
  // The first look sets the counts the later ones compare with.
  void look().finally(schedule);

  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
