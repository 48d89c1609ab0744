/**
 * How published values are written: the plain formats, and Avro in the registry's wire format
 * with the id of a schema registered beforehand (the real registry; never registered by Ferry).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { parseSchema } from "../avro/parse-schema.ts";
import { unframe } from "../avro/wire-format.ts";
import { EncodeError, PublishError, SchemaGateError } from "../errors.ts";
import { testRegistry } from "../../tests/support/registry.ts";
import { plainEncoder, prepareEncoders } from "./encode.ts";

describe("plain formats", () => {
  test.each([
    ["json", { a: 1 }, '{"a":1}'],
    ["string", "héllo", "héllo"],
    ["bytes", new Uint8Array([1, 2, 3]), "\u0001\u0002\u0003"],
  ] as const)("%s writes %p", (format, value, bytes) => {
    expect(plainEncoder(format, "t")(value)?.toString()).toBe(bytes);
  });

  test("null is a tombstone in every format", () => {
    for (const format of ["json", "string", "bytes"] as const) expect(plainEncoder(format, "t")(null)).toBeNull();
  });

  test.each([
    ["json", undefined, "cannot be written as JSON"],
    ["string", 42, 'declared format "string", got number'],
    ["bytes", "text", 'declared format "bytes", give a Buffer'],
    ["json", { amount: 10n }, "cannot be written as JSON: "],
    [
      "json",
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
      "cannot be written as JSON: ",
    ],
    [
      "json",
      {
        toJSON() {
          throw new Error("no");
        },
      },
      "cannot be written as JSON: no",
    ],
    ["string", "a\uD800b", "lone UTF-16 surrogate"],
  ] as const)("%s refuses %p at the call", (format, value, message) => {
    expect(() => plainEncoder(format, "t")(value)).toThrow(PublishError);
    expect(() => plainEncoder(format, "t")(value)).toThrow(message);
  });
});

describe("avro", () => {
  const registry = testRegistry();
  afterAll(() => registry.cleanup());
  const schema = {
    type: "record",
    name: "InvoiceRequested",
    namespace: "ferry.test",
    fields: [
      { name: "orderId", type: "string" },
      { name: "amountCents", type: "long" },
    ],
  };
  const handler = (topic: string) => ({ name: "request-invoice", file: "/h/request-invoice.ts", publishes: [{ topic, format: "avro" as const, schema }] });

  test("encodes in the wire format with the registered schema's id", async () => {
    const topic = registry.subject("invoice-requested");
    registry.track(`${topic}-value`);
    const { id } = await registry.client.register(`${topic}-value`, JSON.stringify(schema));
    const encode = (await prepareEncoders(handler(topic), registry.client, "TopicName")).get(topic)!;
    const bytes = encode({ orderId: "o-1", amountCents: 1250 })!;
    const { schemaId, payload } = unframe(bytes);
    expect(schemaId).toBe(id);
    expect(parseSchema(schema, "test").fromBuffer(payload)).toEqual({ orderId: "o-1", amountCents: 1250 });
    expect(() => encode({ orderId: "o-1" })).toThrow(EncodeError);
  });

  test("a schema not registered under its subject stops the handler at start, and is not registered", async () => {
    const topic = registry.subject("invoice-requested");
    registry.track(`${topic}-value`);
    const preparing = prepareEncoders(handler(topic), registry.client, "TopicName");
    await expect(preparing).rejects.toThrow(SchemaGateError);
    await expect(preparing).rejects.toThrow(`which is not registered under subject ${topic}-value: register it from CI with 'ferry schemas register'`);
    expect(await registry.client.versions(`${topic}-value`)).toEqual([]);
  });
});
