import { describe, expect, test } from "bun:test";
import { parseSchema } from "../avro/parse-schema.ts";
import { unframe } from "../avro/wire-format.ts";
import { prepareRecord } from "../consume/prepare.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { encodeValue, localAvroDecoding, testSchemaId, toRecord } from "./test-records.ts";

const handler = (format: LoadedHandler["format"]): LoadedHandler => ({
  name: "h",
  file: "/h.ts",
  topics: ["orders", "refunds"],
  format,
  retry: { attempts: 1, backoffMs: 0, maxBackoffMs: 0 },
  timeoutMs: 1000,
  publishes: [],
  apply: { kind: "each", handle: () => {} },
});
const reader = parseSchema(
  {
    type: "record",
    name: "Order",
    fields: [
      { name: "id", type: "string" },
      { name: "cents", type: "long" },
    ],
  },
  "test",
);

describe("encodeValue", () => {
  test.each([
    ["json", { a: 1 }, '{"a":1}'],
    ["string", "text", "text"],
    ["bytes", "raw", "raw"],
  ] as const)("%s values as the producer would write them", (format, value, bytes) => {
    expect(encodeValue(handler(format), value, undefined)?.toString()).toBe(bytes);
  });

  test("bytes go as they are, whatever the format: a poison value", () => {
    expect(encodeValue(handler("avro"), new Uint8Array([1, 2, 3]), reader)).toEqual(Buffer.from([1, 2, 3]));
  });

  test("null is a tombstone", () => {
    expect(encodeValue(handler("json"), null, undefined)).toBeNull();
  });

  test("an Avro value is framed with the handler's schema, and refused when it does not fit it", () => {
    const framed = encodeValue(handler("avro"), { id: "o-1", cents: 5 }, reader)!;
    expect(unframe(framed).schemaId).toBe(testSchemaId);
    expect(() => encodeValue(handler("avro"), { id: "o-1", cents: "5" }, reader)).toThrow("`cents`");
    expect(() => encodeValue(handler("avro"), { id: "o-1" }, undefined)).toThrow("without a `schema`");
  });
});

describe("toRecord", () => {
  test("the event id goes in its header (a new one by default, none for null), on the handler's first topic", () => {
    const h = handler("json");
    const given = toRecord(h, { eventId: "e-1", key: "k", value: {}, headers: { trace: "t" } }, 7n, { eventIdHeader: "event-id", reader: undefined });
    expect(given).toMatchObject({ topic: "orders", partition: 0, offset: "7", key: Buffer.from("k") });
    expect(given.headers).toEqual({ trace: Buffer.from("t"), "event-id": Buffer.from("e-1") });
    expect(toRecord(h, { value: {} }, 0n, { eventIdHeader: "event-id", reader: undefined }).headers["event-id"]?.toString()).toMatch(/^[0-9a-f-]{36}$/);
    expect(toRecord(h, { eventId: null, value: {} }, 0n, { eventIdHeader: "event-id", reader: undefined }).headers).toEqual({});
  });

  test("an Avro record decodes through prepare as the engine's decoder reads it; another schema id is unknown", () => {
    const h = handler("avro");
    const decoding = localAvroDecoding(reader);
    const options = { eventIdHeader: "event-id", missingEventId: "dead-letter" as const, format: "avro" as const, avro: decoding.decode };
    const record = toRecord(h, { eventId: "e-1", value: { id: "o-1", cents: 5 } }, 0n, { eventIdHeader: "event-id", reader });
    expect(prepareRecord(record, options)).toMatchObject({ kind: "event", value: { id: "o-1", cents: 5 } });
    const other = { ...record, value: Buffer.from([0, 0, 0, 0, 9, 2]) };
    expect(prepareRecord(other, options)).toMatchObject({ kind: "rejected", reason: "decode-failed", code: "unknown-schema-id" });
  });
});
