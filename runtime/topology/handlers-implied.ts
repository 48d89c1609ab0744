import { groupIdFor } from "../consume/handler-worker.ts";
import { deadLetterTopic } from "../dlt/dead-letter.ts";
import { type RetryTopicsNeeds, retryTopicsOf } from "../retry/topics.ts";
import { builtInDefaults, dedupeAcls, outsideScope, type DeclaredService } from "./desired.ts";
import type { AclBinding, DesiredState, DesiredTopic } from "./model.ts";

export interface HandlerNeeds {
  name: string;
  file: string;
  topics: string[];
  /** Topics its `ctx.publish` writes to (the outbox relay produces them under the service's principal). */
  publishes?: ReadonlyArray<{ topic: string }>;
  /** `mode: "topics"`: its retry topics are created and granted too. */
  retry?: RetryTopicsNeeds["retry"];
}

export interface RunSettings {
  groupPrefix: string;
  deadLetterSuffix: string;
}

/**
 * Adds what `ferry run` needs for these handlers under `service`'s principal, so a worker never
 * starts and then fails on a missing topic or ACL: each handler's dead letter topics, read on its
 * topics and its consumer group (`<group-prefix>.<handler>`), write on its dead letter topics
 * (which, since KIP-679, also lets its idempotent producer start) and on the topics it publishes
 * to (`publishes`: the outbox relay sends them), read and write on its retry topics
 * (`retry: { mode: "topics" }`: it produces its failed events there and consumes them). Returns
 * the merged state, or the problems.
 */
export function withHandlers(
  state: DesiredState,
  handlers: HandlerNeeds[],
  service: DeclaredService,
  settings: RunSettings,
): { state: DesiredState } | { problems: string[] } {
  const topics = [...state.topics];
  const acls: AclBinding[] = [...state.acls];
  const allow = (operation: "read" | "write", resourceType: "topic" | "group", resourceName: string): AclBinding => ({
    principal: service.principal,
    host: "*",
    permission: "allow",
    operation,
    resourceType,
    resourceName,
    patternType: "literal",
  });

  for (const handler of handlers) {
    acls.push(allow("read", "group", groupIdFor(settings.groupPrefix, handler.name)));
    for (const topic of handler.topics) {
      const dlt = deadLetterTopic(topic, settings.deadLetterSuffix);
      acls.push(allow("read", "topic", topic), allow("write", "topic", dlt));
      if (!topics.some((t) => t.name === dlt))
        topics.push(companionOf(topic, dlt, topics, `${handler.file} (dead letter topic of ${topic}, handler ${handler.name})`));
    }
    for (const retry of retryTopicsOf({ name: handler.name, topics: handler.topics, retry: handler.retry ?? {} })) {
      acls.push(allow("read", "topic", retry.topic), allow("write", "topic", retry.topic));
      if (!topics.some((t) => t.name === retry.topic)) {
        topics.push(companionOf(retry.source, retry.topic, topics, `${handler.file} (retry topic ${retry.stage} of ${retry.source}, handler ${handler.name})`));
      }
    }
    for (const { topic } of handler.publishes ?? []) acls.push(allow("write", "topic", topic));
  }

  const merged: DesiredState = { topics, acls: dedupeAcls(acls), scope: state.scope };
  const problems = outsideScope(merged);
  return problems.length > 0 ? { problems } : { state: merged };
}

/**
 * A dead letter or retry topic follows its source's partitions and replication factor (a retry
 * goes to its event's partition number), but never its cleanup policy: compaction would drop all
 * but the last record of a key.
 */
function companionOf(source: string, name: string, declared: DesiredTopic[], origin: string): DesiredTopic {
  const of = declared.find((t) => t.name === source);
  return {
    name,
    partitions: of?.partitions ?? builtInDefaults.partitions,
    replicationFactor: of?.replicationFactor ?? builtInDefaults.replicationFactor,
    configs: { ...builtInDefaults.configs },
    origin,
  };
}
