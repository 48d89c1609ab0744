/**
 * Retry topics: one per source topic, handler and stage, `<topic>.<handler>.retry.<stage>` (stage
 * 1 holds the second attempts, after the first delay). Per handler, because two handlers of one
 * topic retry apart; per stage, because every record of a stage waits the same delay, so their
 * due times follow their offsets and only the head of a partition needs watching. Pure.
 */
import { MAX_RETRY_DELAY_MS } from "./delays.ts";

/** What a handler's retry policy is, as far as its topics go. */
export interface RetryTopicsNeeds {
  name: string;
  topics: readonly string[];
  retry: { mode?: "in-place" } | { mode: "topics"; delaysMs: readonly number[] };
}

export interface RetryTopic {
  topic: string;
  /** The topic the handler consumes, whose failed events this one holds. */
  source: string;
  /** 1-based: the records here are the event's attempt `stage + 1`. */
  stage: number;
  /** How long its records wait after they were sent. */
  delayMs: number;
}

export const retryTopicName = (source: string, handler: string, stage: number) => `${source}.${handler}.retry.${stage}`;

/** A handler's retry topics, every stage of every topic it consumes; none unless `mode: "topics"`. */
export function retryTopicsOf(handler: RetryTopicsNeeds): RetryTopic[] {
  const { retry } = handler;
  if (retry.mode !== "topics") return [];
  return handler.topics.flatMap((source) =>
    retry.delaysMs.map((delayMs, i) => ({ topic: retryTopicName(source, handler.name, i + 1), source, stage: i + 1, delayMs })),
  );
}

/**
 * Retry topics of this handler that exist in Kafka but are no longer among its stages: its delays
 * were shortened, or it went back to in-place retries. Their records are events waiting for an
 * attempt; left unread they would be lost to the handler without a word. They are consumed like
 * the handler's own retry topics, each record run when due (at most the longest delay a stage may
 * have after it was first seen), and an attempt past the handler's retries is dead-lettered.
 */
export function leftoverRetryTopics(handler: RetryTopicsNeeds, existing: Iterable<string>): RetryTopic[] {
  const current = new Set(retryTopicsOf(handler).map((t) => t.topic));
  const found: RetryTopic[] = [];
  for (const name of existing) {
    if (current.has(name)) continue;
    for (const source of handler.topics) {
      const prefix = `${source}.${handler.name}.retry.`;
      const stage = name.startsWith(prefix) ? name.slice(prefix.length) : "";
      if (/^[1-9]\d{0,2}$/.test(stage)) found.push({ topic: name, source, stage: Number(stage), delayMs: MAX_RETRY_DELAY_MS });
    }
  }
  return found.sort((a, b) => a.topic.localeCompare(b.topic));
}

/** Kafka's rule for topic names: why `name` cannot be one, or null. */
export function topicNameProblem(name: string): string | null {
  if (name.length > 249) return `${name.slice(0, 60)}… is ${name.length} characters long; Kafka allows 249`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return `${name} is not a topic name: only letters, digits, '.', '_' and '-'`;
  return null;
}
