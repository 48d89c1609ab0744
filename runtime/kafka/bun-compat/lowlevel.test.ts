// The node-rdkafka-style API (Producer / KafkaConsumer) under Bun, against the
// real cluster. It reaches addon paths the KafkaJS layer does not: delivery
// reports with key and payload (node::Buffer::New), headers passed as null or
// undefined, the consume-loop thread (uv_thread_create/join), watermark and
// time queries, and RegExp subscriptions (Value::IsRegExp, RegExp::GetSource).
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { brokers, connectLowLevel, disconnectLowLevel, processResources, rdkafka, uniqueName, useKafkaTestClients, waitFor } from "./test-cluster.ts";

setDefaultTimeout(60_000);
const bootstrap = { "bootstrap.servers": brokers.join(",") };
const { clients, createTopic } = useKafkaTestClients();

async function openProducer() {
  const producer = new rdkafka.Producer({ ...bootstrap, dr_msg_cb: true, "enable.idempotence": true, acks: -1 });
  await connectLowLevel(producer);
  clients.add(producer, () => disconnectLowLevel(producer));
  producer.setPollInterval(20);
  return producer;
}

async function openConsumer(extra: Record<string, unknown> = {}) {
  const consumer = new rdkafka.KafkaConsumer(
    { ...bootstrap, "group.id": uniqueName(), "enable.auto.commit": false, ...extra },
    { "auto.offset.reset": "earliest" },
  );
  await connectLowLevel(consumer);
  clients.add(consumer, () => disconnectLowLevel(consumer));
  return consumer;
}

/** Produces and waits for every delivery report. */
async function produceAll(producer: any, sends: Array<() => void>) {
  const reports: Array<{ err: unknown; report: any }> = [];
  const onReport = (err: unknown, report: unknown) => reports.push({ err, report });
  producer.on("delivery-report", onReport);
  for (const send of sends) send();
  await waitFor(`${sends.length} delivery reports`, () => reports.length >= sends.length);
  producer.removeListener("delivery-report", onReport);
  return reports;
}

/** consume(n) in batches until `count` messages arrived. */
async function consumeN(consumer: any, count: number) {
  const messages: any[] = [];
  await waitFor(`${count} messages`, async () => {
    const batch: any[] = await new Promise((resolve, reject) =>
      consumer.consume(count - messages.length, (err: unknown, ms: any[]) => (err ? reject(err) : resolve(ms))),
    );
    messages.push(...batch);
    return messages.length >= count;
  });
  return messages;
}

describe("Producer", () => {
  test("produces with headers, undefined and null headers; delivery reports carry key and value", async () => {
    const topic = await createTopic();
    const producer = await openProducer();
    const reports = await produceAll(producer, [
      () => producer.produce(topic, null, Buffer.from("a"), "k1", Date.now(), undefined, [{ h: "v" }, { b: Buffer.from([1, 2]) }]),
      () => producer.produce(topic, null, Buffer.from("b"), "k2", Date.now()), // no headers argument
      () => producer.produce(topic, null, Buffer.from("c"), null, null, undefined, null), // null headers
      () => producer.produce(topic, 0, null, Buffer.from("k4")), // tombstone
    ]);
    expect(reports.map((r) => r.err)).toEqual([null, null, null, null]);
    const byOffset = reports.map((r) => r.report).sort((x, y) => x.offset - y.offset);
    expect(byOffset.map((r) => [r.offset, r.key === null ? null : String(r.key), r.value === null ? null : String(r.value)])).toEqual([
      [0, "k1", "a"],
      [1, "k2", "b"],
      [2, null, "c"],
      [3, "k4", null],
    ]);
    await clients.close(producer);

    const consumer = await openConsumer();
    consumer.subscribe([topic]);
    const [m0, m1, m2, m3] = await consumeN(consumer, 4);
    expect(m0.headers).toEqual([{ h: Buffer.from("v") }, { b: Buffer.from([1, 2]) }]);
    expect(m1.headers).toBeUndefined();
    expect(m2.key).toBeNull();
    expect(m3.value).toBeNull();
    expect(String(m3.key)).toBe("k4");
    await clients.close(consumer);
  });
});

describe("KafkaConsumer", () => {
  test("commitSync, committed, position, queryWatermarkOffsets, getWatermarkOffsets, offsetsForTimes", async () => {
    const topic = await createTopic();
    const producer = await openProducer();
    const before = Date.now();
    await produceAll(
      producer,
      [0, 1, 2].map((i) => () => producer.produce(topic, 0, Buffer.from(`v${i}`), `k${i}`)),
    );
    await clients.close(producer);

    const consumer = await openConsumer();
    consumer.subscribe([topic]);
    const messages = await consumeN(consumer, 3);
    expect(messages.map((m) => String(m.value))).toEqual(["v0", "v1", "v2"]);

    consumer.commitSync([{ topic, partition: 0, offset: 2 }]); // blocks the JS thread until the broker answers
    const committed = await new Promise<any[]>((resolve, reject) =>
      consumer.committed([{ topic, partition: 0 }], 5_000, (err: unknown, tps: any[]) => (err ? reject(err) : resolve(tps))),
    );
    expect(committed).toEqual([expect.objectContaining({ topic, partition: 0, offset: 2 })]);
    expect(consumer.position()).toEqual([expect.objectContaining({ topic, partition: 0, offset: 3 })]);

    const watermarks = await new Promise((resolve, reject) =>
      consumer.queryWatermarkOffsets(topic, 0, 5_000, (err: unknown, w: unknown) => (err ? reject(err) : resolve(w))),
    );
    expect(watermarks).toEqual({ lowOffset: 0, highOffset: 3 });
    // The cached high watermark is updated by fetches (the low one by statistics).
    expect(consumer.getWatermarkOffsets(topic, 0).highOffset).toBe(3);

    const byTime = await new Promise<any[]>((resolve, reject) =>
      consumer.offsetsForTimes([{ topic, partition: 0, offset: before - 60_000 }], 5_000, (err: unknown, tps: any[]) => (err ? reject(err) : resolve(tps))),
    );
    expect(byTime).toEqual([expect.objectContaining({ topic, partition: 0, offset: 0 })]);
    await clients.close(consumer);
  });

  test("flowing consume() runs on its own thread and disconnect joins it", async () => {
    const topic = await createTopic();
    const baseline = await processResources();
    const consumer = await openConsumer();
    consumer.subscribe([topic]);
    const values: string[] = [];
    consumer.on("data", (m: { value: Buffer }) => values.push(String(m.value)));
    consumer.consume(); // KafkaConsumerConsumeLoop: uv_thread_create (wrapped in bunshim.cc)

    const producer = await openProducer();
    await produceAll(
      producer,
      [0, 1, 2, 3, 4].map((i) => () => producer.produce(topic, 0, Buffer.from(`f${i}`), null)),
    );
    await clients.close(producer);
    await waitFor("5 messages in flowing mode", () => values.length >= 5);
    expect(values).toEqual(["f0", "f1", "f2", "f3", "f4"]);

    await clients.close(consumer); // uv_thread_join of the loop thread
    await waitFor("librdkafka and the loop thread to exit", async () => (await processResources()).threads <= baseline.threads + 1, 15_000);
  });

  test("subscribes with a RegExp object", async () => {
    const prefix = uniqueName();
    const topics = [await createTopic(1, `${prefix}-a`), await createTopic(1, `${prefix}-b`)];
    const producer = await openProducer();
    await produceAll(
      producer,
      topics.map((t) => () => producer.produce(t, 0, Buffer.from(t), null)),
    );
    await clients.close(producer);

    const consumer = await openConsumer({ "topic.metadata.refresh.interval.ms": 1_000 });
    consumer.subscribe([new RegExp(`^${prefix}-.*`)]);
    expect(consumer.subscription()).toEqual([`^${prefix}-.*`]);
    const messages = await consumeN(consumer, 2);
    expect(messages.map((m) => m.topic).sort()).toEqual(topics);
    await clients.close(consumer);
  });
});
