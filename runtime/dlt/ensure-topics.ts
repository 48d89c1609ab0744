import { FerryError } from "../errors.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { AdminPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { deadLetterTopic } from "./dead-letter.ts";

export interface DeadLetterTopicSettings {
  deadLetterSuffix: string;
  createDeadLetterTopics: boolean;
  deadLetterReplicationFactor: number;
}

/**
 * Makes sure every consumed topic has its dead letter topic before any event is consumed: a
 * dead letter that cannot be produced would stall its partition. Missing ones are created like
 * their source (same partition count) or, when creation is off, refused with what to do.
 */
export async function ensureDeadLetterTopics(admin: AdminPort, handlers: LoadedHandler[], settings: DeadLetterTopicSettings, log: Logger): Promise<void> {
  const sources = [...new Set(handlers.flatMap((h) => h.topics))];
  const letters = sources.map((t) => deadLetterTopic(t, settings.deadLetterSuffix));
  const counts = await admin.partitionCounts([...sources, ...letters]);
  const toCreate: Array<{ topic: string; partitions: number }> = [];
  for (const source of sources) {
    const letter = deadLetterTopic(source, settings.deadLetterSuffix);
    const partitions = counts.get(source);
    if (partitions === undefined) {
      log.warn("topic:missing", { topic: source, hint: "the handler waits until the topic exists; create it with its dead letter topic" });
      continue;
    }
    if (!counts.has(letter)) toCreate.push({ topic: letter, partitions });
  }
  if (toCreate.length === 0) return;
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
}
