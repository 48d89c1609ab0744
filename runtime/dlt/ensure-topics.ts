import { FerryError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { AdminPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { MISSING_TOPIC_CHECK_MS } from "../consume/missing-topics.ts";
import { deadLetterTopic } from "./dead-letter.ts";

export interface DeadLetterTopicSettings {
  deadLetterSuffix: string;
  createDeadLetterTopics: boolean;
  deadLetterReplicationFactor: number;
}

/**
 * Makes sure every consumed topic has its dead letter topic before any event is consumed: a
 * dead letter that cannot be produced would stall its partition. Missing ones are created like
 * their source (same partition count) or, when creation is off, refused with what to do. Returns
 * the source topics that do not exist yet (consume/missing-topics.ts watches them).
 */
export async function ensureDeadLetterTopics(
  admin: AdminPort,
  handlers: Array<Pick<LoadedHandler, "name" | "topics">>,
  settings: DeadLetterTopicSettings,
  log: Logger,
): Promise<{ missing: string[] }> {
  const sources = [...new Set(handlers.flatMap((h) => h.topics))];
  const missing: string[] = [];
  const letters = sources.map((t) => deadLetterTopic(t, settings.deadLetterSuffix));
  const counts = await admin.partitionCounts([...sources, ...letters]);
  const toCreate: Array<{ topic: string; partitions: number }> = [];
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
          ? `the handler waits for the topic, without a time limit: Ferry looks every ${MISSING_TOPIC_CHECK_MS / 1000} s and, within seconds of its creation, creates ${letter} and starts consuming it`
          : `the handler waits for the topic, without a time limit: Ferry looks every ${MISSING_TOPIC_CHECK_MS / 1000} s and starts consuming it within seconds of its creation once ${letter} exists too (FERRY_CREATE_DEAD_LETTER_TOPICS=false: create it with the topic)`,
      });
      continue;
    }
    if (!counts.has(letter)) toCreate.push({ topic: letter, partitions });
  }
  if (toCreate.length === 0) return { missing };
  if (!settings.createDeadLetterTopics) {
    throw new FerryError(
      `dead letter topic(s) missing: ${toCreate.map((t) => t.topic).join(", ")}; create them (ferry topology apply --handlers <dir>) or set FERRY_CREATE_DEAD_LETTER_TOPICS=true`,
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
        `creating dead letter topic(s) ${toCreate.map((t) => t.topic).join(", ")} failed: ${(e as Error).message}; check the principal may create topics, or FERRY_DEAD_LETTER_REPLICATION_FACTOR (${rf}) against the number of brokers`,
        { cause: e },
      );
    }
  }
  for (const t of toCreate) log.info("topic:dead-letter-created", { topic: t.topic, partitions: t.partitions, replicationFactor: rf });
  return { missing };
}
