import { expect, test } from "bun:test";
import type { AdminPort, TopicSpec } from "../kafka/port.ts";
import { createLogger } from "../log/logger.ts";
import { ensureDeadLetterTopics } from "./ensure-topics.ts";

/** An admin port over a map of topic → partitions: what ensureDeadLetterTopics reads and creates. */
function fakeAdmin(existing: Record<string, number>) {
  const topics = new Map(Object.entries(existing));
  const created: TopicSpec[] = [];
  const admin = {
    async partitionCounts(names: string[]) {
      return new Map(names.flatMap((n) => (topics.has(n) ? [[n, topics.get(n)!] as const] : [])));
    },
    async createTopics(specs: TopicSpec[]) {
      for (const s of specs) {
        created.push(s);
        topics.set(s.topic, s.partitions);
      }
    },
  } as unknown as AdminPort;
  return { admin, created };
}

const log = createLogger({ level: "error" });
const settings = { deadLetterSuffix: ".dlt", createDeadLetterTopics: true, deadLetterReplicationFactor: 3 };
const retrying = { name: "totals", topics: ["orders"], retry: { mode: "topics" as const, delaysMs: [1_000, 5_000] } };

test("creates a retry-topics handler's retry topics beside the dead letter topic, with the source's partitions", async () => {
  const { admin, created } = fakeAdmin({ orders: 6 });
  expect(await ensureDeadLetterTopics(admin, [retrying], settings, log)).toEqual({ missing: [] });
  expect(created.map((c) => [c.topic, c.partitions, c.replicationFactor])).toEqual([
    ["orders.dlt", 6, 3],
    ["orders.totals.retry.1", 6, 3],
    ["orders.totals.retry.2", 6, 3],
  ]);
});

test("refuses to start when a retry topic has fewer partitions than its source: a retry keeps its partition number", async () => {
  const { admin } = fakeAdmin({ orders: 6, "orders.dlt": 6, "orders.totals.retry.1": 6, "orders.totals.retry.2": 3 });
  await expect(ensureDeadLetterTopics(admin, [retrying], settings, log)).rejects.toThrow(
    "retry topic(s) with fewer partitions than their source: orders.totals.retry.2 has 3 partitions, orders has 6",
  );
});

test("with creation off, names every missing retry topic and what to do", async () => {
  const { admin } = fakeAdmin({ orders: 2, "orders.dlt": 2 });
  await expect(ensureDeadLetterTopics(admin, [retrying], { ...settings, createDeadLetterTopics: false }, log)).rejects.toThrow(
    "dead letter or retry topic(s) missing: orders.totals.retry.1, orders.totals.retry.2; create them (ferry topology apply --handlers <dir>)",
  );
});

test("a source topic that does not exist yet is reported missing; its retry topics wait for it", async () => {
  const { admin, created } = fakeAdmin({});
  expect(await ensureDeadLetterTopics(admin, [retrying], settings, log)).toEqual({ missing: ["orders"] });
  expect(created).toEqual([]);
});
