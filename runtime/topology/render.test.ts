import { expect, test } from "bun:test";
import type { Plan, Scope } from "./model.ts";
import { renderPlan } from "./render.ts";

const scope: Scope = { topicPrefixes: ["orders."], principals: ["User:alice"], aclResourcePrefixes: [] };
const acl = {
  principal: "User:alice",
  host: "*",
  permission: "allow",
  operation: "read",
  resourceType: "topic",
  resourceName: "orders.",
  patternType: "prefixed",
} as const;

test("renders every kind of change, warnings, refusals and a summary", () => {
  const plan: Plan = {
    changes: [
      { action: "create-topic", topic: "orders.a", partitions: 3, replicationFactor: 3, configs: { "retention.ms": "1000", "min.insync.replicas": "2" } },
      { action: "update-configs", topic: "orders.b", configs: [{ name: "retention.ms", from: "5", to: "10" }] },
      { action: "add-partitions", topic: "orders.b", from: 3, to: 6 },
      { action: "delete-topic", topic: "orders.old" },
      { action: "add-acl", acl },
      { action: "remove-acl", acl: { ...acl, operation: "write", patternType: "literal", resourceName: "orders.a", host: "10.0.0.1" } },
    ],
    refusals: [{ topic: "orders.c", reason: "fewer-partitions", message: "orders.c has 6 partitions ..." }],
    warnings: ["adding partitions to orders.b ..."],
  };
  expect(renderPlan(plan, scope)).toBe(`Scope: topic prefixes orders.; ACLs of User:alice

  + create topic orders.a: 3 partitions, replication factor 3, min.insync.replicas=2, retention.ms=1000
  ~ update topic orders.b: retention.ms 5 → 10
  ~ add partitions to orders.b: 3 → 6
  - delete topic orders.old (apply needs --allow-delete)
  + add acl User:alice allow read topic orders. (prefixed)
  - remove acl User:alice allow write topic orders.a from 10.0.0.1

Warning: adding partitions to orders.b ...

Refused (fewer-partitions): orders.c has 6 partitions ...

Plan: topics 1 to create, 1 to update, 1 to grow, 1 to delete; ACLs 1 to add, 1 to remove; 1 refused: apply will change nothing until the file is fixed.`);
});

test("says so when nothing changes", () => {
  expect(renderPlan({ changes: [], refusals: [], warnings: [] }, { ...scope, topicPrefixes: [] })).toBe(
    "Scope: topic prefixes (none: only the declared topics); ACLs of User:alice\n\nNo changes: the cluster matches the topology.",
  );
});
