/**
 * The topology's data: what the files ask for (desired), what the cluster has (actual), which
 * part of the cluster a run may touch (scope) and the changes between them. Plain data only, so
 * the plan is a pure function of these.
 */

export const aclResourceTypes = ["topic", "group", "cluster", "transactional-id"] as const;
export const aclOperations = [
  "all",
  "read",
  "write",
  "create",
  "delete",
  "alter",
  "describe",
  "cluster-action",
  "describe-configs",
  "alter-configs",
  "idempotent-write",
] as const;

export type AclResourceType = (typeof aclResourceTypes)[number];
export type AclOperation = (typeof aclOperations)[number];
export type AclPatternType = "literal" | "prefixed";
export type AclPermission = "allow" | "deny";

/** One ACL binding, as Kafka stores it: one principal, one operation, one resource pattern. */
export interface AclBinding {
  principal: string;
  host: string;
  permission: AclPermission;
  operation: AclOperation;
  resourceType: AclResourceType;
  resourceName: string;
  patternType: AclPatternType;
}

/** The cluster resource's only name in Kafka. */
export const clusterResourceName = "kafka-cluster";

export interface DesiredTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Only these configs are compared with the cluster: broker defaults never show up as drift. */
  configs: Record<string, string>;
  /** Where it was declared (`file: path`), for messages. */
  origin: string;
}

/**
 * What a run may touch. Topics: the declared ones plus any whose name starts with a prefix (those
 * not declared are deleted, with --allow-delete). ACLs: every ACL of the listed principals (those
 * not declared are removed), narrowed to resources whose names start with `aclResourcePrefixes`
 * when given. Several teams share a cluster by keeping these disjoint.
 */
export interface Scope {
  topicPrefixes: string[];
  principals: string[];
  aclResourcePrefixes: string[];
}

export const aclInScope = (acl: AclBinding, scope: Scope) =>
  scope.principals.includes(acl.principal) && (scope.aclResourcePrefixes.length === 0 || scope.aclResourcePrefixes.some((p) => acl.resourceName.startsWith(p)));

export interface DesiredState {
  topics: DesiredTopic[];
  acls: AclBinding[];
  scope: Scope;
}

export interface ActualTopic {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** The current value of each config asked for (null: the broker returned none). */
  configs: Record<string, string | null>;
}

export interface ActualState {
  topics: ActualTopic[];
  acls: AclBinding[];
}

export interface ConfigChange {
  name: string;
  from: string | null;
  to: string;
}

export type Change =
  | { action: "create-topic"; topic: string; partitions: number; replicationFactor: number; configs: Record<string, string> }
  | { action: "update-configs"; topic: string; configs: ConfigChange[] }
  | { action: "add-partitions"; topic: string; from: number; to: number }
  | { action: "delete-topic"; topic: string }
  | { action: "add-acl"; acl: AclBinding }
  | { action: "remove-acl"; acl: AclBinding };

export type RefusalReason = "fewer-partitions" | "replication-factor-change" | "compaction-flip";

/** A change the file asks for that Kafka cannot make, or that would break a guarantee. */
export interface Refusal {
  topic: string;
  reason: RefusalReason;
  message: string;
}

export interface Plan {
  changes: Change[];
  refusals: Refusal[];
  warnings: string[];
}

/** Identity of an ACL binding: two bindings with the same key are the same ACL. */
export const aclKey = (a: AclBinding) => [a.principal, a.host, a.permission, a.operation, a.resourceType, a.patternType, a.resourceName].join("\u0000");

/** One line per ACL, the way the plan shows it: `User:alice allow read topic orders (prefixed)`. */
export function describeAcl(a: AclBinding): string {
  const resource = a.resourceType === "cluster" ? "cluster" : `${a.resourceType} ${a.resourceName}`;
  const pattern = a.patternType === "prefixed" ? " (prefixed)" : "";
  const host = a.host === "*" ? "" : ` from ${a.host}`;
  return `${a.principal} ${a.permission} ${a.operation} ${resource}${pattern}${host}`;
}
