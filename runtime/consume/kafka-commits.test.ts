import { expect, test } from "bun:test";
import type { TopicPartitionOffset } from "../kafka/port.ts";
import { createKafkaCommits } from "./kafka-commits.ts";

const setup = () => {
  const commits: TopicPartitionOffset[][] = [];
  const failed: unknown[] = [];
  let fail = false;
  const kafka = createKafkaCommits({
    commit: async (offsets) => {
      if (fail) throw new Error("refused");
      commits.push(offsets);
    },
    intervalMs: 30,
    onCommitted: () => {},
    onFailed: (_, e) => failed.push(e),
  });
  return { kafka, commits, failed, failNext: () => (fail = true) };
};
const at = (partition: number, offset: string) => ({ topic: "t", partition, offset });

test("coalesces offers within the interval into one commit holding each partition's latest offset", async () => {
  const { kafka, commits } = setup();
  await kafka.offer(at(0, "10"));
  await kafka.offer(at(1, "5"));
  await kafka.offer(at(0, "20"));
  expect(commits).toEqual([]);
  await Bun.sleep(60);
  expect(commits).toEqual([[at(0, "20"), at(1, "5")]]);
  await kafka.offer(at(1, "7"));
  await Bun.sleep(60);
  expect(commits).toEqual([[at(0, "20"), at(1, "5")], [at(1, "7")]]);
});

test("forgets revoked partitions' pending offsets", async () => {
  const { kafka, commits } = setup();
  await kafka.offer(at(0, "10"));
  await kafka.offer(at(1, "5"));
  kafka.forget([{ topic: "t", partition: 0 }]);
  await Bun.sleep(60);
  expect(commits).toEqual([[at(1, "5")]]);
});

test("stop commits what is pending, and every later offer at once", async () => {
  const { kafka, commits } = setup();
  await kafka.offer(at(0, "10"));
  await kafka.stop();
  expect(commits).toEqual([[at(0, "10")]]);
  await kafka.offer(at(0, "11"));
  expect(commits).toEqual([[at(0, "10")], [at(0, "11")]]);
});

test("a refused commit is reported, not thrown", async () => {
  const { kafka, failed, failNext } = setup();
  failNext();
  await kafka.offer(at(0, "10"));
  await kafka.stop();
  expect(failed).toHaveLength(1);
});

test("an offset the coordinator silently refused is offered again until it lands, unless its partition is revoked", async () => {
  const commits: TopicPartitionOffset[][] = [];
  const held = new Map<number, string>();
  let refuse = 2;
  const kafka = createKafkaCommits({
    commit: async (offsets) => {
      commits.push(offsets);
      // Like the client during a rebalance: resolves, but the coordinator kept the old offsets.
      if (refuse-- > 0) return;
      for (const o of offsets) held.set(o.partition, o.offset);
    },
    committed: async (offsets) => offsets.filter((o) => held.has(o.partition)).map((o) => at(o.partition, held.get(o.partition)!)),
    intervalMs: 20,
    onCommitted: () => {},
    onFailed: () => {},
  });
  await kafka.offer(at(0, "10"));
  await kafka.offer(at(1, "5"));
  await Bun.sleep(40);
  kafka.forget([{ topic: "t", partition: 1 }]);
  await Bun.sleep(150);
  expect(held).toEqual(new Map([[0, "10"]]));
  expect(commits).toEqual([[at(0, "10"), at(1, "5")], [at(0, "10")], [at(0, "10")]]);
  await kafka.stop();
});

test("a late, lower offer (a catch-up computed at assignment) never takes Kafka's commit back", async () => {
  const { kafka, commits } = setup();
  await kafka.offer(at(0, "20"));
  await Bun.sleep(60);
  await kafka.offer(at(0, "12"));
  await kafka.offer(at(0, "20"));
  await Bun.sleep(60);
  expect(commits).toEqual([[at(0, "20")]]);
  kafka.forget([{ topic: "t", partition: 0 }]);
  await kafka.offer(at(0, "12")); // assigned again: a fresh start
  await Bun.sleep(60);
  expect(commits).toEqual([[at(0, "20")], [at(0, "12")]]);
});

test("a revocation's flush commits at once without reading the commit back (the group waits for it)", async () => {
  const commits: TopicPartitionOffset[][] = [];
  let readBacks = 0;
  const kafka = createKafkaCommits({
    commit: async (offsets) => {
      commits.push(offsets);
    },
    committed: async () => {
      readBacks++;
      return [];
    },
    intervalMs: 10_000,
    onCommitted: () => {},
    onFailed: () => {},
  });
  await kafka.offer(at(0, "10"));
  await kafka.flush({ readBack: false });
  expect(commits).toEqual([[at(0, "10")]]);
  expect(readBacks).toBe(0);
  // The interval's own flush still reads back, and offers a refused offset again.
  await kafka.offer(at(0, "11"));
  await kafka.flush();
  expect(readBacks).toBe(1);
  expect(commits).toEqual([[at(0, "10")], [at(0, "11")]]);
  kafka.forget([{ topic: "t", partition: 0 }]);
  await kafka.stop();
});

test("an older offset refused by one flush is not offered again once a newer one was offered (flushes overlap)", async () => {
  const commits: TopicPartitionOffset[][] = [];
  let releaseFirstReadBack: (held: TopicPartitionOffset[]) => void = () => {};
  let readBacks = 0;
  const kafka = createKafkaCommits({
    commit: async (offsets) => {
      commits.push(offsets);
    },
    committed: (offsets) => {
      // The first read-back hangs through a rebalance and then reports the old offset (refused);
      // the second, after the newer commit, sees it landed.
      if (readBacks++ === 0) return new Promise((resolve) => (releaseFirstReadBack = resolve));
      return Promise.resolve(offsets);
    },
    intervalMs: 20,
    onCommitted: () => {},
    onFailed: () => {},
  });
  await kafka.offer(at(0, "10"));
  const first = kafka.flush();
  await kafka.offer(at(0, "20"));
  await kafka.flush();
  releaseFirstReadBack([at(0, "5")]);
  await first;
  await Bun.sleep(80);
  // Committing 10 again would take Kafka's commit back below 20 for good: no later record comes to move it.
  expect(commits).toEqual([[at(0, "10")], [at(0, "20")]]);
  await kafka.stop();
});
