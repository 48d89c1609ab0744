/**
 * Interop with Confluent's own JavaScript serdes (@confluentinc/schemaregistry) over the real
 * registry: what their AvroSerializer writes, Ferry decodes; what Ferry's producer writes, their
 * AvroDeserializer decodes. Plus evolution across registered versions in both directions.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { AvroDeserializer, AvroSerializer, SchemaRegistryClient, SerdeType } from "@confluentinc/schemaregistry";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { createAvroDecoder } from "../../runtime/avro/decoder.ts";
import { parseSchema } from "../../runtime/avro/parse-schema.ts";
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";
import { createAvroProducer } from "../../runtime/produce/avro-producer.ts";
import { createSchemaCache } from "../../runtime/registry/schema-cache.ts";
import { loadSchemaFile } from "../../runtime/schemas/catalog.ts";
import { testRegistry } from "../support/registry.ts";

const registry = testRegistry();
afterAll(() => registry.cleanup());
// axios waits for ever by default: one request the registry never answered hung a CI run for the
// test's whole 300 s. A bounded request is retried by the client instead.
const confluent = new SchemaRegistryClient({ baseURLs: [registry.url], createAxiosDefaults: { timeout: 10_000 } });
const orderPlaced = await loadSchemaFile(path.resolve(import.meta.dir, "../../schemas/order-placed.avsc"));

const order = (n: number) => ({
  orderId: `o-${n}`,
  customerId: `c-${n % 3}`,
  totalCents: 1_000_000_000_000 + n, // beyond int32: a real long
  currency: "CHF",
  paymentMethod: "INVOICE",
  items: [{ sku: "sku-1", quantity: 2, unitPriceCents: 250 }],
  couponCode: n % 2 ? null : "WELCOME",
  placedAt: 1_760_000_000_000 + n,
});
const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

/** A fresh topic name; its subject (TopicName strategy: "<topic>-value") is deleted after the run. */
const topicFor = (prefix: string) => {
  const topic = `${prefix}-${randomUUID().slice(0, 8)}`;
  registry.track(`${topic}-value`);
  return topic;
};

function captureProducer() {
  const sent: OutgoingRecord[] = [];
  return {
    sent,
    port: {
      send: async (records: OutgoingRecord[]) => {
        sent.push(...records);
        return records.map(() => ({ topic: "t", partition: 0, offset: "0" }));
      },
      stop: async () => {},
    },
  };
}

describe("interop with @confluentinc/schemaregistry", () => {
  test("Ferry decodes what Confluent's AvroSerializer wrote", async () => {
    const topic = topicFor("interop-in");
    await registry.client.register(`${topic}-value`, orderPlaced.text);
    const serializer = new AvroSerializer(confluent, SerdeType.VALUE, { useLatestVersion: true });
    const bytes = await Promise.all([1, 2, 3].map((n) => serializer.serialize(topic, order(n))));
    const cache = createSchemaCache(registry.client);
    const decode = createAvroDecoder({ reader: orderPlaced.type, writers: cache });
    for (const [i, value] of bytes.entries()) {
      await cache.warm([value.readUInt32BE(1)]);
      expect(decode(value)).toEqual(order(i + 1));
    }
  });

  test("Confluent's AvroDeserializer decodes what Ferry's producer wrote", async () => {
    const topic = topicFor("interop-out");
    const capture = captureProducer();
    const producer = createAvroProducer({ producer: capture.port, registry: registry.client, autoRegister: true });
    const { schemaId } = await producer.send(
      topic,
      orderPlaced,
      [1, 2].map((n) => ({ value: order(n), key: `o-${n}` })),
    );
    const deserializer = new AvroDeserializer(confluent, SerdeType.VALUE, {});
    for (const [i, record] of capture.sent.entries()) {
      expect((record.value as Buffer).readUInt32BE(1)).toBe(schemaId);
      expect(plain(await deserializer.deserialize(topic, record.value as Buffer))).toEqual(order(i + 1));
    }
  }, 60_000);
});

describe("evolution across registered versions (real registry ids)", () => {
  const v1 = {
    type: "record",
    name: "Payment",
    namespace: "shop.pay",
    fields: [
      { name: "id", type: "string" },
      { name: "cents", type: "int" },
    ],
  };
  const v2 = { ...v1, fields: [...v1.fields, { name: "currency", type: "string", default: "EUR" }] };

  test("a v1 writer is read by a v2 reader (the new field's default), and a v2 writer by a v1 reader (the field dropped)", async () => {
    const topic = topicFor("evolve");
    const capture = captureProducer();
    const producer = createAvroProducer({ producer: capture.port, registry: registry.client, autoRegister: true });
    const schema = (s: object) => ({ type: parseSchema(s, "test"), text: JSON.stringify(s) });
    await producer.send(topic, schema(v1), [{ value: { id: "p-1", cents: 5 } }]);
    await producer.send(topic, schema(v2), [{ value: { id: "p-2", cents: 7, currency: "USD" } }]); // BACKWARD allows it
    expect(await registry.client.versions(`${topic}-value`)).toEqual([1, 2]);

    const cache = createSchemaCache(registry.client);
    await cache.warm(capture.sent.map((r) => (r.value as Buffer).readUInt32BE(1)));
    const [fromV1, fromV2] = capture.sent.map((r) => r.value as Buffer);
    const readV2 = createAvroDecoder({ reader: parseSchema(v2, "v2"), writers: cache });
    const readV1 = createAvroDecoder({ reader: parseSchema(v1, "v1"), writers: cache });
    expect(readV2(fromV1!)).toEqual({ id: "p-1", cents: 5, currency: "EUR" });
    expect(readV1(fromV2!)).toEqual({ id: "p-2", cents: 7 });
    expect(cache.fetches).toBe(2);
  });
});
