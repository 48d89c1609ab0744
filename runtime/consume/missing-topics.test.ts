import { expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { watchMissingTopics } from "./missing-topics.ts";

test("looks up missing topics until each appears, once per topic, and retries one whose take-up failed", async () => {
  const existing = new Set<string>();
  const lookups: string[][] = [];
  const appeared: string[] = [];
  let failOnce = true;
  const lines: string[] = [];
  const watch = watchMissingTopics({
    intervalMs: 20,
    log: createLogger({ level: "debug", sink: (l) => lines.push(l) }),
    async partitionCounts(topics) {
      lookups.push(topics);
      return new Map(topics.filter((t) => existing.has(t)).map((t) => [t, 3]));
    },
    async onAppeared(topic) {
      if (topic === "b" && failOnce) {
        failOnce = false;
        throw new Error("could not create b.dlt");
      }
      appeared.push(topic);
    },
  });
  watch.add(["a", "b"]);
  watch.add(["a"]);
  await waitFor("a first look", () => lookups.length >= 2);
  expect(appeared).toEqual([]);
  existing.add("a");
  existing.add("b");
  await waitFor("both taken up", () => appeared.length === 2);
  expect(appeared).toEqual(["a", "b"]);
  expect(watch.missing()).toEqual([]);
  expect(lines.some((l) => l.includes('"msg":"topic:appeared-but-not-ready"') && l.includes("could not create b.dlt"))).toBe(true);
  // Nothing missing: no more lookups.
  const before = lookups.length;
  await Bun.sleep(100);
  expect(lookups.length).toBe(before);
  watch.stop();
});

test("a lookup that fails is said once per streak and tried again", async () => {
  let calls = 0;
  const lines: string[] = [];
  const watch = watchMissingTopics({
    intervalMs: 10,
    log: createLogger({ level: "debug", sink: (l) => lines.push(l) }),
    async partitionCounts() {
      calls++;
      if (calls < 4) throw new Error("brokers down");
      return new Map([["t", 1]]);
    },
    onAppeared: async () => {},
  });
  watch.add(["t"]);
  await waitFor("taken up", () => watch.missing().length === 0);
  expect(lines.filter((l) => l.includes('"msg":"topics:lookup-failed"'))).toHaveLength(1);
  watch.stop();
});
