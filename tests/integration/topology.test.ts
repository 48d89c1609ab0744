// `ferry topology` against the real 3-node cluster, connected as admin over SASL with ACLs
// enforced. Each test has its own topic prefix and ACL scope (tests/support/topology.ts).
import { afterEach, describe, expect, test } from "bun:test";
import { TopologyRefusedError } from "../../runtime/errors.ts";
import { testServices } from "../support/env.ts";
import { aliceTotalsService, kafkaTool, testTopology } from "../support/topology.ts";
import { waitFor } from "../support/wait.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
const topology = () => {
  const t = testTopology();
  cleanups.push(t.cleanup);
  return t;
};

const ordersFile = (p: string, { partitions = 3, retention = 86_400_000 } = {}) => `
topics:
  ${p}.orders:
    partitions: ${partitions}
    configs:
      retention.ms: ${retention}
  ${p}.totals:
    configs:
      cleanup.policy: compact
${aliceTotalsService(p)}`;

describe("ferry topology on a real cluster", () => {
  test("plan, apply, then plan again shows no change", async () => {
    const t = topology();
    const first = await t.plan(ordersFile(t.prefix));
    expect(first.changes.map((c) => c.action)).toEqual(["create-topic", "create-topic", "add-acl", "add-acl", "add-acl"]);
    await t.apply(ordersFile(t.prefix));
    expect((await t.plan(ordersFile(t.prefix))).changes).toEqual([]);
    const [orders] = await t.admin.describeTopics([`${t.prefix}.orders`]);
    expect(orders).toEqual({ name: `${t.prefix}.orders`, partitions: 3, replicationFactor: 3 });
    const configs = await t.admin.describeConfigs([{ topic: `${t.prefix}.orders`, names: ["min.insync.replicas", "retention.ms"] }]);
    expect(configs.get(`${t.prefix}.orders`)).toEqual({ "min.insync.replicas": "2", "retention.ms": "86400000" });
    // Applying again is a no-op.
    expect((await t.apply(ordersFile(t.prefix))).changes).toEqual([]);
  });

  test("detects config drift made by hand with Kafka's ConfigCommand and corrects it", async () => {
    const t = topology();
    await t.apply(ordersFile(t.prefix));
    await kafkaTool("kafka.admin.ConfigCommand", [
      "--bootstrap-server",
      testServices().brokers,
      "--entity-type",
      "topics",
      "--entity-name",
      `${t.prefix}.orders`,
      "--alter",
      "--add-config",
      "retention.ms=1000,segment.ms=3600000",
    ]);
    const drift = await waitFor("the drift to show in the plan", async () => {
      const p = await t.plan(ordersFile(t.prefix));
      return p.changes.length > 0 ? p : undefined;
    });
    // segment.ms is not declared: not drift. retention.ms is.
    expect(drift.changes).toEqual([
      { action: "update-configs", topic: `${t.prefix}.orders`, configs: [{ name: "retention.ms", from: "1000", to: "86400000" }] },
    ]);
    await t.apply(ordersFile(t.prefix));
    const configs = await t.admin.describeConfigs([{ topic: `${t.prefix}.orders`, names: ["retention.ms", "segment.ms"] }]);
    // Incremental: the correction leaves the undeclared override alone.
    expect(configs.get(`${t.prefix}.orders`)).toEqual({ "retention.ms": "86400000", "segment.ms": "3600000" });
  });

  test("removes an ACL granted by hand to a managed principal", async () => {
    const t = topology();
    await t.apply(ordersFile(t.prefix));
    const extra = {
      principal: "User:alice",
      host: "*",
      permission: "allow",
      operation: "write",
      resourceType: "topic",
      resourceName: `${t.prefix}.orders`,
      patternType: "literal",
    } as const;
    await t.admin.createAcls([extra]);
    // Brokers learn the hand-made ACL a moment after the controller accepts it.
    const plan = await waitFor("the hand-made ACL to show in the plan", async () => {
      const p = await t.plan(ordersFile(t.prefix));
      return p.changes.length > 0 ? p : undefined;
    });
    expect(plan.changes).toEqual([{ action: "remove-acl", acl: extra }]);
    await t.apply(ordersFile(t.prefix));
    expect((await t.admin.describeAcls("User:alice")).filter((a) => a.resourceName === extra.resourceName && a.operation === "write")).toEqual([]);
  });

  test("refuses to delete an undeclared topic without --allow-delete, deletes it with", async () => {
    const t = topology();
    await t.apply(`topics:\n  ${t.prefix}.keep:\n  ${t.prefix}.old:\n`);
    const smaller = `topics:\n  ${t.prefix}.keep:\n`;
    const plan = await t.plan(smaller);
    expect(plan.changes).toContainEqual({ action: "delete-topic", topic: `${t.prefix}.old` });
    const refused = await t.apply(smaller).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TopologyRefusedError);
    expect((refused as Error).message).toContain(`the plan deletes topic ${t.prefix}.old (in scope, not declared): pass --allow-delete`);
    expect(await t.admin.listTopics()).toContain(`${t.prefix}.old`);

    await t.apply(smaller, { allowDelete: true });
    expect(await t.admin.listTopics()).not.toContain(`${t.prefix}.old`);
    expect(await t.admin.listTopics()).toContain(`${t.prefix}.keep`);
  });

  test("refuses fewer partitions and applies nothing else of that plan", async () => {
    const t = topology();
    await t.apply(ordersFile(t.prefix, { partitions: 3 }));
    const shrink = ordersFile(t.prefix, { partitions: 2, retention: 5_000 });
    const plan = await t.plan(shrink);
    expect(plan.refusals).toEqual([expect.objectContaining({ topic: `${t.prefix}.orders`, reason: "fewer-partitions" })]);
    expect(await t.apply(shrink).catch((e: unknown) => e)).toBeInstanceOf(TopologyRefusedError);
    const configs = await t.admin.describeConfigs([{ topic: `${t.prefix}.orders`, names: ["retention.ms"] }]);
    expect(configs.get(`${t.prefix}.orders`)).toEqual({ "retention.ms": "86400000" });
  });

  test("refuses a compaction flip and a replication factor change; adds partitions with a warning", async () => {
    const t = topology();
    await t.apply(ordersFile(t.prefix));
    const flipped = ordersFile(t.prefix)
      .replace("cleanup.policy: compact", "cleanup.policy: delete")
      .replace("partitions: 3", "partitions: 3\n    replicationFactor: 2");
    expect((await t.plan(flipped)).refusals.map((r) => r.reason).sort()).toEqual(["compaction-flip", "replication-factor-change"]);

    const grown = ordersFile(t.prefix, { partitions: 5 });
    const plan = await t.apply(grown);
    expect(plan.warnings).toEqual([expect.stringContaining("changes which partition a key goes to")]);
    expect((await t.admin.describeTopics([`${t.prefix}.orders`]))[0]?.partitions).toBe(5);
  });

  test("two teams with disjoint scopes do not touch each other's topics or ACLs", async () => {
    const a = topology();
    const b = topology();
    await a.apply(ordersFile(a.prefix));
    await b.apply(ordersFile(b.prefix));
    // Same principal (alice) in both, different resources: each sees only its own.
    expect((await a.plan(ordersFile(a.prefix))).changes).toEqual([]);
    const emptyA = await a.plan("");
    expect(emptyA.changes.every((c) => ("topic" in c ? c.topic : c.acl.resourceName).startsWith(`${a.prefix}.`))).toBe(true);
    expect((await b.plan(ordersFile(b.prefix))).changes).toEqual([]);
  });
});
