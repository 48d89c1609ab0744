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
