/**
 * A static member fenced by another consumer with its instance id (KIP-345). librdkafka says so once,
 * as an ERR__FATAL error inside `consume`, which the addon drops when that call had taken records
 * before it. The adapter therefore also asks librdkafka with an empty commit (fatal-check.ts): these
 * tests hold librdkafka to the answers that relies on, and the adapter to failing the fetch.
 */
import { afterAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { CODES, KafkaConsumer } from "@confluentinc/kafka-javascript";
import { testServices } from "../../tests/support/env.ts";
import { testKafka } from "../../tests/support/kafka.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { createLogger } from "../log/logger.ts";
import { librdkafkaSettings } from "./confluent.ts";
import type { ConsumerClient, TopicPartition } from "./port.ts";
import { createRdKafkaClient, defaultMembership, fetchSettings } from "./rdkafka-consumer.ts";

const ERR = CODES.ERRORS as Record<string, number>;
const kafka = await testKafka();
afterAll(() => kafka.close());
const membership = { ...defaultMembership, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, groupInstanceId: "twin" };
const settings = () => librdkafkaSettings({ brokers: testServices().brokers.split(","), clientId: "ferry-test", securityProtocol: "plaintext" });

/** A member of `groupId` over the adapter that takes whatever it is assigned; `assigned` is what it holds now. */
function member(groupId: string) {
  const assigned: TopicPartition[] = [];
  const client: ConsumerClient = createRdKafkaClient(
    settings(),
    groupId,
    {
      onRebalance(event) {
        if (event.kind === "assign") {
          client.assign(event.partitions);
          assigned.push(...event.partitions);
        } else {
          client.unassign(event.partitions);
          assigned.length = 0;
        }
      },
    },
    createLogger({ level: "error" }),
    membership,
  );
  const joined = () =>
    waitFor("an assignment", async () => (await client.fetch(1)).records.length >= 0 && assigned.length > 0, { timeoutMs: 30_000, intervalMs: 0 });
  return { client, joined };
}

/** What an empty synchronous commit throws: librdkafka's code, or "none". */
function emptyCommitAnswer(consumer: Pick<KafkaConsumer, "commitSync">): number | "none" {
  try {
    consumer.commitSync([]);
    return "none";
  } catch (e) {
    return (e as { code: number }).code;
  }
}

test("an empty commit is refused with ERR__NO_OFFSET while a static member holds its id, with ERR__FATAL once another consumer took it", async () => {
  const topic = await kafka.createTopic("fenced-ask", 1, false);
  const groupId = `fenced-${randomUUID().slice(0, 8)}`;
  const first = new KafkaConsumer(
    {
      ...settings(),
      "group.id": groupId,
      "group.instance.id": "twin",
      ...fetchSettings,
      "session.timeout.ms": membership.sessionTimeoutMs,
      "heartbeat.interval.ms": membership.heartbeatIntervalMs,
    } as never,
    {},
  );
  await new Promise<void>((resolve, reject) => first.connect({}, (err) => (err ? reject(err) : resolve())));
  const second = member(groupId);
  try {
    first.subscribe([topic]);
    first.setDefaultConsumeTimeout(100);
    await waitFor("the first member's assignment", async () => {
      await new Promise((resolve) => first.consume(1, resolve));
      return first.assignments().length > 0;
    });
    expect(emptyCommitAnswer(first)).toBe(ERR.ERR__NO_OFFSET!);

    await second.client.connect();
    second.client.subscribe([topic]);
    await second.joined();
    // The first member is not polled: its heartbeat hears of the fencing, and only the ask says so.
    await waitFor("the first member's empty commit refused as fatal", () => emptyCommitAnswer(first) === ERR.ERR__FATAL, { timeoutMs: 15_000, intervalMs: 50 });
  } finally {
    await new Promise((resolve) => first.disconnect(resolve));
    second.client.unsubscribe();
    await second.client.disconnect();
  }
}, 60_000);

/** A member fetching all the time, as the fetch loop does, until a fetch fails as fatal. */
function fetching(groupId: string, topic: string) {
  const { client } = member(groupId);
  let failure: Error | undefined;
  let records = 0;
  let running = true;
  const loop = (async () => {
    await client.connect();
    client.subscribe([topic]);
    while (running && !failure) {
      const fetched = await client.fetch(1_000);
      records += fetched.records.length;
      if (fetched.failure?.fatal) failure = fetched.failure.error;
    }
  })();
  return {
    failure: () => failure,
    records: () => records,
    async stop() {
      running = false;
      await loop;
      if (!failure) client.unsubscribe();
      await client.disconnect();
    },
  };
}

// The lost error is a race that busy fetching makes likely: 5 fences in 30 went unreported before
// the fatal check, each round here; none in 60 since.
test("a static member fenced while it fetches a busy topic: its fetch fails, naming the instance id the other worker took", async () => {
  for (let round = 0; round < 8; round++) {
    const topic = await kafka.createTopic("fenced", 2, false);
    const groupId = `fenced-${randomUUID().slice(0, 8)}`;
    let sending = true;
    const stream = (async () => {
      for (let n = 0; sending; n += 50) {
        await kafka.send(Array.from({ length: 50 }, (_, i) => ({ topic, key: `k${i % 9}`, value: `v${n + i}`, headers: {} })));
        await Bun.sleep(2);
      }
    })();
    const first = fetching(groupId, topic);
    let second: ReturnType<typeof fetching> | undefined;
    try {
      await waitFor("records fetched by the first member", () => first.records() > 0, { timeoutMs: 30_000, intervalMs: 20 });
      second = fetching(groupId, topic);
      const failure = await waitFor(`round ${round}: the first member's fetch failing`, () => first.failure(), { timeoutMs: 15_000, intervalMs: 20 });
      expect(failure.message).toContain("another worker joined with the same FERRY_KAFKA_GROUP_INSTANCE_ID=twin");
    } finally {
      sending = false;
      await stream;
      await first.stop();
      await second?.stop();
    }
  }
}, 300_000);
