import { describe, expect, test } from "bun:test";
import type { AclBinding, ActualState, ActualTopic, Change, DesiredState, DesiredTopic, RefusalReason, Scope } from "./model.ts";
import { planTopology } from "./plan.ts";

const scope: Scope = { topicPrefixes: ["orders."], principals: ["User:alice"], aclResourcePrefixes: [] };

const want = (name: string, o: Partial<DesiredTopic> = {}): DesiredTopic => ({
  name,
  partitions: 3,
  replicationFactor: 3,
  configs: { "min.insync.replicas": "2" },
  origin: `t.yaml:1: topics["${name}"]`,
  ...o,
});
const have = (name: string, o: Partial<ActualTopic> = {}): ActualTopic => ({
  name,
  partitions: 3,
  replicationFactor: 3,
  configs: { "min.insync.replicas": "2" },
  ...o,
});
const acl = (o: Partial<AclBinding> = {}): AclBinding => ({
  principal: "User:alice",
  host: "*",
  permission: "allow",
  operation: "read",
  resourceType: "topic",
  resourceName: "orders.placed",
  patternType: "literal",
  ...o,
});
const desired = (topics: DesiredTopic[], acls: AclBinding[] = []): DesiredState => ({ topics, acls, scope });
const actual = (topics: ActualTopic[], acls: AclBinding[] = []): ActualState => ({ topics, acls });

describe("planTopology", () => {
  test.each<[string, DesiredState, ActualState, Change[]]>([
    ["nothing to do when the cluster matches", desired([want("orders.a")], [acl()]), actual([have("orders.a")], [acl()]), []],
    [
      "creates a missing topic with its partitions, replication factor and configs",
      desired([want("orders.a", { partitions: 6, configs: { "retention.ms": "1000" } })]),
      actual([]),
      [{ action: "create-topic", topic: "orders.a", partitions: 6, replicationFactor: 3, configs: { "retention.ms": "1000" } }],
    ],
    [
      "updates a declared config that drifted, and only that one",
      desired([want("orders.a", { configs: { "min.insync.replicas": "2", "retention.ms": "1000" } })]),
      actual([have("orders.a", { configs: { "min.insync.replicas": "2", "retention.ms": "5000" } })]),
      [{ action: "update-configs", topic: "orders.a", configs: [{ name: "retention.ms", from: "5000", to: "1000" }] }],
    ],
    [
      "ignores configs the file does not declare (broker defaults are not drift)",
      desired([want("orders.a")]),
      actual([have("orders.a", { configs: { "min.insync.replicas": "2", "segment.bytes": "1" } })]),
      [],
    ],
    [
      "treats cleanup.policy as a set",
      desired([want("orders.a", { configs: { "cleanup.policy": "delete,compact" } })]),
      actual([have("orders.a", { configs: { "cleanup.policy": "compact, delete" } })]),
      [],
    ],
    [
      "adds partitions",
      desired([want("orders.a", { partitions: 6 })]),
      actual([have("orders.a")]),
      [{ action: "add-partitions", topic: "orders.a", from: 3, to: 6 }],
    ],
    ["adds a missing ACL", desired([], [acl()]), actual([], []), [{ action: "add-acl", acl: acl() }]],
    [
      "removes an undeclared ACL of a principal in scope",
      desired([], []),
      actual([], [acl({ operation: "write" })]),
      [{ action: "remove-acl", acl: acl({ operation: "write" }) }],
    ],
    ["leaves ACLs of principals outside the scope alone", desired([], []), actual([], [acl({ principal: "User:bob" })]), []],
    ["deletes an undeclared topic under a scope prefix", desired([]), actual([have("orders.old")]), [{ action: "delete-topic", topic: "orders.old" }]],
    ["leaves topics outside the scope alone", desired([]), actual([have("payments.a"), have("__consumer_offsets")]), []],
  ])("%s", (_name, d, a, changes) => {
    const plan = planTopology(d, a, scope);
    expect(plan.changes).toEqual(changes);
    expect(plan.refusals).toEqual([]);
  });

  test.each<[string, DesiredTopic, ActualTopic, RefusalReason]>([
    ["fewer partitions", want("orders.a", { partitions: 2 }), have("orders.a", { partitions: 3 }), "fewer-partitions"],
    ["a replication factor change", want("orders.a", { replicationFactor: 3 }), have("orders.a", { replicationFactor: 1 }), "replication-factor-change"],
    [
      "turning compaction on",
      want("orders.a", { configs: { "cleanup.policy": "compact" } }),
      have("orders.a", { configs: { "cleanup.policy": "delete" } }),
      "compaction-flip",
    ],
    [
      "turning compaction off",
      want("orders.a", { configs: { "cleanup.policy": "delete" } }),
      have("orders.a", { configs: { "cleanup.policy": "compact,delete" } }),
      "compaction-flip",
    ],
  ])("refuses %s with an explanation", (_name, w, h, reason) => {
    const plan = planTopology(desired([w]), actual([h]), scope);
    expect(plan.refusals.map((r) => r.reason)).toEqual([reason]);
    expect(plan.refusals[0]!.message).toContain(w.origin);
  });

  test("warns that adding partitions moves keys", () => {
    const plan = planTopology(desired([want("orders.a", { partitions: 6 })]), actual([have("orders.a")]), scope);
    expect(plan.warnings).toEqual([expect.stringContaining("changes which partition a key goes to")]);
  });

  test("narrows ACLs to aclResourcePrefixes: another test's ACLs of the same principal stay", () => {
    const narrow: Scope = { ...scope, aclResourcePrefixes: ["orders."] };
    const plan = planTopology(
      { topics: [], acls: [], scope: narrow },
      actual([], [acl({ resourceName: "orders.x" }), acl({ resourceName: "payments.x" })]),
      narrow,
    );
    expect(plan.changes).toEqual([{ action: "remove-acl", acl: acl({ resourceName: "orders.x" }) }]);
  });

  test("orders changes stably: topics by name, then ACLs", () => {
    const plan = planTopology(desired([want("orders.b"), want("orders.a")], [acl()]), actual([]), scope);
    expect(plan.changes.map((c) => ("topic" in c ? c.topic : c.action))).toEqual(["orders.a", "orders.b", "add-acl"]);
  });
});
