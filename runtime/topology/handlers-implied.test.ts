import { describe, expect, test } from "bun:test";
import { withHandlers } from "./handlers-implied.ts";
import type { DesiredState } from "./model.ts";

const service = { name: "totals", principal: "User:alice", origin: "t.yaml:9: services.totals" };
const settings = { groupPrefix: "ferry", deadLetterSuffix: ".dlt" };
const state = (topicPrefixes: string[] = []): DesiredState => ({
  topics: [
    {
      name: "orders.placed",
      partitions: 12,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2", "cleanup.policy": "compact" },
      origin: "t.yaml:3",
    },
  ],
  acls: [],
  scope: { topicPrefixes, principals: ["User:alice"], aclResourcePrefixes: [] },
});
const handler = { name: "order-totals", file: "/h/order-totals.ts", topics: ["orders.placed", "payments"] };

describe("withHandlers", () => {
  test("adds each handler's dead letter topics and exactly the ACLs `ferry run` needs", () => {
    const result = withHandlers(state(), [handler], service, settings);
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    const { topics, acls } = result.state;
    expect(topics.slice(1).map(({ origin: _, ...t }) => t)).toEqual([
      // Follows its source's partitions and replication factor, never its compaction.
      { name: "orders.placed.dlt", partitions: 12, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
      { name: "payments.dlt", partitions: 3, replicationFactor: 3, configs: { "min.insync.replicas": "2" } },
    ]);
    expect(acls.map((a) => `${a.principal} ${a.operation} ${a.resourceType} ${a.resourceName}`)).toEqual([
      "User:alice read group ferry.order-totals",
      "User:alice read topic orders.placed",
      "User:alice write topic orders.placed.dlt",
      "User:alice read topic payments",
      "User:alice write topic payments.dlt",
    ]);
  });

  test("grants write on the topics a handler publishes to, and creates no dead letter topic for them", () => {
    const result = withHandlers(state(), [{ ...handler, topics: ["orders.placed"], publishes: [{ topic: "invoice-requested" }] }], service, settings);
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    expect(result.state.topics.map((t) => t.name)).toEqual(["orders.placed", "orders.placed.dlt"]);
    expect(result.state.acls.map((a) => `${a.principal} ${a.operation} ${a.resourceType} ${a.resourceName}`)).toContain(
      "User:alice write topic invoice-requested",
    );
  });

  test("keeps a dead letter topic the file declares itself", () => {
    const declared = state();
    declared.topics.push({ name: "orders.placed.dlt", partitions: 1, replicationFactor: 3, configs: {}, origin: "t.yaml:7" });
    const result = withHandlers(declared, [{ ...handler, topics: ["orders.placed"] }], service, settings);
    expect("state" in result && result.state.topics.find((t) => t.name === "orders.placed.dlt")?.partitions).toBe(1);
  });

  test("rejects a dead letter topic outside the file's prefixes", () => {
    const result = withHandlers(state(["orders."]), [handler], service, settings);
    expect("problems" in result && result.problems).toEqual([
      expect.stringContaining("/h/order-totals.ts (dead letter topic of payments, handler order-totals): topic payments.dlt is outside this topology's scope"),
    ]);
  });

  test("with retry topics: one per source topic and delay, following the source's partitions, read and write granted", () => {
    const retrying = { ...handler, topics: ["orders.placed"], retry: { mode: "topics" as const, delaysMs: [5_000, 60_000] } };
    const result = withHandlers(state(), [retrying], service, settings);
    if ("problems" in result) throw new Error(result.problems.join("\n"));
    expect(result.state.topics.slice(1).map(({ name, partitions, configs, origin }) => ({ name, partitions, configs, origin }))).toEqual([
      { name: "orders.placed.dlt", partitions: 12, configs: { "min.insync.replicas": "2" }, origin: expect.stringContaining("dead letter topic") },
      {
        name: "orders.placed.order-totals.retry.1",
        partitions: 12,
        configs: { "min.insync.replicas": "2" },
        origin: "/h/order-totals.ts (retry topic 1 of orders.placed, handler order-totals)",
      },
      { name: "orders.placed.order-totals.retry.2", partitions: 12, configs: { "min.insync.replicas": "2" }, origin: expect.stringContaining("retry topic 2") },
    ]);
    expect(result.state.acls.map((a) => `${a.principal} ${a.operation} ${a.resourceType} ${a.resourceName}`)).toEqual([
      "User:alice read group ferry.order-totals",
      "User:alice read topic orders.placed",
      "User:alice write topic orders.placed.dlt",
      "User:alice read topic orders.placed.order-totals.retry.1",
      "User:alice write topic orders.placed.order-totals.retry.1",
      "User:alice read topic orders.placed.order-totals.retry.2",
      "User:alice write topic orders.placed.order-totals.retry.2",
    ]);
  });
});
