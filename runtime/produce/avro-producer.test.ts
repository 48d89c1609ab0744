import { describe, expect, test } from "bun:test";
import { createAvroDecoder } from "../avro/decoder.ts";
import { parseSchema } from "../avro/parse-schema.ts";
import { EncodeError } from "../errors.ts";
import type { OutgoingRecord } from "../kafka/port.ts";
import { createAvroProducer, encode } from "./avro-producer.ts";

const schema = {
  type: "record",
  name: "Order",
  namespace: "shop",
  fields: [
    { name: "id", type: "string" },
    { name: "total", type: "long" },
    { name: "note", type: ["null", "string"], default: null },
  ],
};
const type = parseSchema(schema, "test");
const valueSchema = { type, text: JSON.stringify(schema) };

function fakes({ registered = true } = {}) {
  const sent: OutgoingRecord[] = [];
  const calls: string[] = [];
  return {
    sent,
    calls,
    producer: {
      send: async (records: OutgoingRecord[]) => {
        sent.push(...records);
        return records.map((r, i) => ({ topic: r.topic, partition: 0, offset: String(i) }));
      },
      stop: async () => {},
    },
    registry: {
      lookup: async (subject: string) => {
        calls.push(`lookup ${subject}`);
        return registered ? { subject, version: 1, id: 7, schemaType: "AVRO", schema: "" } : null;
      },
      register: async (subject: string) => {
        calls.push(`register ${subject}`);
        return { id: 8 };
      },
    },
  };
}

describe("createAvroProducer", () => {
  test("frames with the registered id, sets key and event id, looks the id up once", async () => {
    const f = fakes();
    const avro = createAvroProducer({ producer: f.producer, registry: f.registry });
    const result = await avro.send("orders", valueSchema, [{ value: { id: "o-1", total: 5 }, key: "o-1", eventId: "e-1" }]);
    await avro.send("orders", valueSchema, [{ value: { id: "o-2", total: 6 } }]);
    expect(result).toMatchObject({ subject: "orders-value", schemaId: 7 });
    expect(f.calls).toEqual(["lookup orders-value"]);
    expect(f.sent[0]).toMatchObject({ topic: "orders", key: "o-1", headers: { "event-id": "e-1" } });
    expect(f.sent[1]!.headers!["event-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const decode = createAvroDecoder({ writers: { peek: () => ({ kind: "avro", type }) } });
    expect(decode(f.sent[0]!.value as Buffer)).toEqual({ id: "o-1", total: 5, note: null });
  });

  test("refuses an unregistered schema unless auto-registration is on", async () => {
    const f = fakes({ registered: false });
    await expect(
      createAvroProducer({ producer: f.producer, registry: f.registry }).send("orders", valueSchema, [{ value: { id: "x", total: 1 } }]),
    ).rejects.toThrow("ferry schemas register");
    const result = await createAvroProducer({ producer: f.producer, registry: f.registry, autoRegister: true }).send("orders", valueSchema, [
      { value: { id: "x", total: 1 } },
    ]);
    expect(result.schemaId).toBe(8);
  });

  test("one invalid value sends nothing", async () => {
    const f = fakes();
    const avro = createAvroProducer({ producer: f.producer, registry: f.registry });
    await expect(avro.send("orders", valueSchema, [{ value: { id: "ok", total: 1 } }, { value: { id: 1, total: 1 } }])).rejects.toThrow(EncodeError);
    expect(f.sent).toEqual([]);
  });
});

test("encode names every field that does not fit, unknown fields included", () => {
  expect(() => encode(type, { id: 1, total: "x", totl: 3 }, 2)).toThrow(
    'event 3 does not match schema shop.Order: `id` is 1, expected string; `total` is "x", expected long; `totl` is not a field of shop.Order',
  );
  expect(() => encode(type, { id: "a", total: 1, totl: 3 })).toThrow("`totl` is not a field of shop.Order");
});
