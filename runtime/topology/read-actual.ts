import type { TopologyAdmin } from "./admin.ts";
import type { ActualState, DesiredState } from "./model.ts";
import { topicInScope } from "./plan.ts";

/**
 * Reads the part of the cluster the desired state's scope covers: the topics in scope with their
 * partitions, replication factor and the configs the files declare; the ACLs of its principals.
 */
export async function readActual(admin: TopologyAdmin, desired: DesiredState): Promise<ActualState> {
  const declared = new Set(desired.topics.map((t) => t.name));
  const names = (await admin.listTopics()).filter((n) => topicInScope(n, desired.scope, declared));
  const topics = await admin.describeTopics(names);
  const existing = new Set(topics.map((t) => t.name));
  const [configs, acls] = await Promise.all([
    admin.describeConfigs(desired.topics.filter((t) => existing.has(t.name)).map((t) => ({ topic: t.name, names: Object.keys(t.configs) }))),
    Promise.all(desired.scope.principals.map((p) => admin.describeAcls(p))),
  ]);
  return {
    topics: topics.map((t) => ({ ...t, configs: configs.get(t.name) ?? {} })),
    acls: acls.flat(),
  };
}
