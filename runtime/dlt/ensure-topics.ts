import { FerryError } from "../errors.ts";
import type { AdminPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { MISSING_TOPIC_CHECK_MS } from "../consume/missing-topics.ts";
import { type RetryTopicsNeeds, retryTopicsOf } from "../retry/topics.ts";
import { deadLetterTopic } from "./dead-letter.ts";

export interface DeadLetterTopicSettings {
  deadLetterSuffix: string;
  createDeadLetterTopics: boolean;
  deadLetterReplicationFactor: number;
}

/**
 * Makes sure every consumed topic has its dead letter topic, and every handler with retry topics
 * (`retry: { mode: "topics" }`) its retry topics, before any event is consumed: a dead letter or a
 * retry that cannot be produced would stall its partition. Missing ones are created like their
 * source (same partition count) or, when creation is off (FERRY_CREATE_DEAD_LETTER_TOPICS=false),
 * refused with what to do. A retry topic with fewer partitions than its source is refused: a retry
 * goes to its event's partition number. Returns the source topics that do not exist yet
 * (consume/missing-topics.ts watches them).
 */
export async function ensureDeadLetterTopics(
  admin: AdminPort,
  handlers: RetryTopicsNeeds[],
  settings: DeadLetterTopicSettings,
  log: Logger,
): Promise<{ missing: string[] }> {
  const sources = [...new Set(handlers.flatMap((h) => h.topics))];
  const retries = handlers.flatMap((h) => retryTopicsOf(h));
  const missing: string[] = [];
  const letters = sources.map((t) => deadLetterTopic(t, settings.deadLetterSuffix));
  const counts = await admin.partitionCounts([...sources, ...letters, ...retries.map((r) => r.topic)]);
  const toCreate: Array<{ topic: string; partitions: number }> = [];
  const tooSmall: string[] = [];
  for (const source of sources) {
    const letter = deadLetterTopic(source, settings.deadLetterSuffix);
    const partitions = counts.get(source);
    if (partitions === undefined) {
      missing.push(source);
      log.warn("topic:missing", {
        topic: source,
        handlers: handlers.filter((h) => h.topics.includes(source)).map((h) => h.name),
        checkEveryMs: MISSING_TOPIC_CHECK_MS,
        hint: settings.createDeadLetterTopics
          ? `the handler waits for the topic, without a time limit: Ferry looks every ${MISSING_TOPIC_CHECK_MS / 1000} s and, within seconds of its creation, creates ${letter} (and any retry topics) and starts consuming it`
          : `the handler waits for the topic, without a time limit: Ferry looks every ${MISSING_TOPIC_CHECK_MS / 1000} s and starts consuming it within seconds of its creation once ${letter} (and any retry topics) exists too (FERRY_CREATE_DEAD_LETTER_TOPICS=false: create it with the topic)`,
      });
      continue;
    }
    if (!counts.has(letter)) toCreate.push({ topic: letter, partitions });
    for (const retry of retries.filter((r) => r.source === source)) {
      const has = counts.get(retry.topic);
      if (has === undefined) toCreate.push({ topic: retry.topic, partitions });
      else if (has < partitions) tooSmall.push(`${retry.topic} has ${has} partitions, ${source} has ${partitions}`);
    }
  }
  if (tooSmall.length > 0) {
    throw new FerryError(
      `retry topic(s) with fewer partitions than their source: ${tooSmall.join("; ")}; a retry goes to its event's partition number: add partitions (ferry topology apply --handlers <dir>)`,
    );
  }
  if (toCreate.length === 0) return { missing };
  if (!settings.createDeadLetterTopics) {
    throw new FerryError(
      `dead letter or retry topic(s) missing: ${toCreate.map((t) => t.topic).join(", ")}; create them (ferry topology apply --handlers <dir>) or set FERRY_CREATE_DEAD_LETTER_TOPICS=true`,
    );
  }
  const rf = settings.deadLetterReplicationFactor;
  try {
    await admin.createTopics(toCreate.map((t) => ({ ...t, replicationFactor: rf, configs: { "min.insync.replicas": String(Math.min(2, rf)) } })));
  } catch (e) {
    // Another worker may have created them meanwhile: that is fine; anything else is not.
    const after = await admin.partitionCounts(toCreate.map((t) => t.topic));
    if (after.size < toCreate.length) {
      throw new FerryError(
        `creating dead letter or retry topic(s) ${toCreate.map((t) => t.topic).join(", ")} failed: ${(e as Error).message}; check the principal may create topics, or FERRY_DEAD_LETTER_REPLICATION_FACTOR (${rf}) against the number of brokers`,
        { cause: e },
      );
    }
  }
  const isRetry = new Set(retries.map((r) => r.topic));
  for (const t of toCreate)
    log.info(isRetry.has(t.topic) ? "topic:retry-created" : "topic:dead-letter-created", { topic: t.topic, partitions: t.partitions, replicationFactor: rf });
  return { missing };
}
