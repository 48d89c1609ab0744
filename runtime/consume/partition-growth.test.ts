import { expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { grownTopics, watchPartitionGrowth } from "./partition-growth.ts";

test.each([
  ["a topic seen for the first time does not grow", new Map(), new Map([["a", 3]]), []],
  ["the same count", new Map([["a", 3]]), new Map([["a", 3]]), []],
  ["more partitions", new Map([["a", 3]]), new Map([["a", 5]]), [{ topic: "a", from: 3, to: 5 }]],
  ["a topic gone is left to the missing-topics watch", new Map([["a", 3]]), new Map(), []],
  [
    "only the grown one of several",
    new Map([
      ["a", 3],
      ["b", 1],
    ]),
    new Map([
      ["a", 3],
      ["b", 2],
    ]),
    [{ topic: "b", from: 1, to: 2 }],
  ],
] as const)("grownTopics: %s", (_, known, now, expected) => {
  expect(grownTopics(known, now)).toEqual(expected as never);
});

test("a growth is acted on once, and again at the next look when acting on it failed", async () => {
  const counts = new Map([["a", 2]]);
  const seen: string[] = [];
  let failNext = false;
  const watch = watchPartitionGrowth({
    topics: () => ["a"],
    partitionCounts: async () => new Map(counts),
    async onGrown(g) {
      seen.push(`${g.from}->${g.to}`);
      if (failNext) {
        failNext = false;
        throw new Error("the consumer could not refresh");
      }
    },
    log: createLogger({ level: "error", sink: () => undefined }),
    intervalMs: 5,
  });
  try {
    await Bun.sleep(20);
    expect(seen).toEqual([]);
    failNext = true;
    counts.set("a", 4);
    await waitFor("acted on after a failure", () => seen.length === 2, { timeoutMs: 2_000, intervalMs: 5 });
    await Bun.sleep(30);
    expect(seen).toEqual(["2->4", "2->4"]);
  } finally {
    watch.stop();
  }
});

test("a consumed topic that is gone is said once, and counts as new when it comes back", async () => {
  let counts = new Map([["a", 2]]);
  const gone: string[] = [];
  const grown: string[] = [];
  const watch = watchPartitionGrowth({
    topics: () => ["a"],
    partitionCounts: async () => new Map(counts),
    onGrown: async (g) => void grown.push(`${g.from}->${g.to}`),
    onGone: (t) => gone.push(t),
    log: createLogger({ level: "error", sink: () => undefined }),
    intervalMs: 5,
  });
  try {
    await Bun.sleep(20);
    counts = new Map();
    await waitFor("gone", () => gone.length === 1, { timeoutMs: 2_000, intervalMs: 5 });
    await Bun.sleep(30);
    counts = new Map([["a", 1]]);
    await Bun.sleep(30);
    expect(gone).toEqual(["a"]);
    expect(grown).toEqual([]);
  } finally {
    watch.stop();
  }
});
