import {
  aclInScope,
  aclKey,
  type ActualState,
  type ActualTopic,
  type Change,
  type ConfigChange,
  type DesiredState,
  type DesiredTopic,
  type Plan,
  type Refusal,
  type Scope,
} from "./model.ts";

/** Kafka's internal topics (`__consumer_offsets`, ...) are never planned, whatever the prefixes say. */
const isInternal = (topic: string) => topic.startsWith("__");

export const topicInScope = (topic: string, scope: Scope, declared: ReadonlySet<string>) =>
  declared.has(topic) || (!isInternal(topic) && scope.topicPrefixes.some((p) => topic.startsWith(p)));

/**
 * The changes that bring the cluster from `actual` to `desired`, touching nothing outside `scope`.
 * Pure: the same inputs always give the same plan, in a stable order (topics by name, then ACLs).
 */
export function planTopology(desired: DesiredState, actual: ActualState, scope: Scope): Plan {
  const changes: Change[] = [];
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const declared = new Set(desired.topics.map((t) => t.name));
  const live = new Map(actual.topics.map((t) => [t.name, t]));

  for (const want of [...desired.topics].sort(byName)) {
    const have = live.get(want.name);
    if (!have) {
      changes.push({
        action: "create-topic",
        topic: want.name,
        partitions: want.partitions,
        replicationFactor: want.replicationFactor,
        configs: want.configs,
      });
      continue;
    }
    const topicRefusals = refuse(want, have);
    refusals.push(...topicRefusals);
    if (want.partitions > have.partitions) {
      changes.push({ action: "add-partitions", topic: want.name, from: have.partitions, to: want.partitions });
      warnings.push(
        `adding partitions to ${want.name} (${have.partitions} → ${want.partitions}) changes which partition a key goes to: ` +
          "events of one key written before and after may be consumed out of order",
      );
    }
    const configs = configChanges(want, have);
    if (configs.length > 0) changes.push({ action: "update-configs", topic: want.name, configs });
  }

  for (const have of [...actual.topics].sort(byName)) {
    if (!declared.has(have.name) && topicInScope(have.name, scope, declared)) changes.push({ action: "delete-topic", topic: have.name });
  }

  const wanted = new Map(desired.acls.map((a) => [aclKey(a), a]));
  const present = new Map(actual.acls.filter((a) => aclInScope(a, scope)).map((a) => [aclKey(a), a]));
  for (const [key, acl] of sortedEntries(wanted)) if (!present.has(key)) changes.push({ action: "add-acl", acl });
  for (const [key, acl] of sortedEntries(present)) if (!wanted.has(key)) changes.push({ action: "remove-acl", acl });

  return { changes, refusals, warnings };
}

function refuse(want: DesiredTopic, have: ActualTopic): Refusal[] {
  const refusals: Refusal[] = [];
  if (want.partitions < have.partitions) {
    refusals.push({
      topic: want.name,
      reason: "fewer-partitions",
      message:
        `${want.name} has ${have.partitions} partitions and ${want.origin} asks for ${want.partitions}: Kafka cannot remove partitions. ` +
        `Set partitions to ${have.partitions} or more, or create a new topic and move the consumers over.`,
    });
  }
  if (want.replicationFactor !== have.replicationFactor) {
    refusals.push({
      topic: want.name,
      reason: "replication-factor-change",
      message:
        `${want.name} has replication factor ${have.replicationFactor} and ${want.origin} asks for ${want.replicationFactor}: ` +
        "the replication factor cannot be changed in place by this tool. Reassign the partitions " +
        "(kafka-reassign-partitions) and then update the file, or declare the current value.",
    });
  }
  const wantPolicy = want.configs["cleanup.policy"];
  const havePolicy = have.configs["cleanup.policy"];
  if (wantPolicy !== undefined && havePolicy != null && compacts(wantPolicy) !== compacts(havePolicy)) {
    refusals.push({
      topic: want.name,
      reason: "compaction-flip",
      message:
        `${want.name} has cleanup.policy=${havePolicy} and ${want.origin} asks for ${wantPolicy}: switching compaction on or off ` +
        "changes which events the topic keeps (compaction keeps only the latest value per key). " +
        "Create a new topic with the policy you want and migrate to it.",
    });
  }
  return refusals;
}

function configChanges(want: DesiredTopic, have: ActualTopic): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const name of Object.keys(want.configs).sort()) {
    const to = want.configs[name]!;
    const from = have.configs[name] ?? null;
    if (from === null || normalise(name, from) !== normalise(name, to)) changes.push({ name, from, to });
  }
  return changes;
}

/** `cleanup.policy` is a set: "compact,delete" equals "delete, compact". */
function normalise(name: string, value: string): string {
  if (name !== "cleanup.policy") return value.trim();
  return value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .sort()
    .join(",");
}

const compacts = (policy: string) => normalise("cleanup.policy", policy).split(",").includes("compact");
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sortedEntries = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
