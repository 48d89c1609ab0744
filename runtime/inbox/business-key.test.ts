import { expect, test } from "bun:test";
import type { EventMeta } from "../handlers/contract.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { BusinessKeyError } from "../errors.ts";
import { businessKeyOf, MAX_BUSINESS_KEY_BYTES } from "./business-key.ts";

const meta = { id: "e-1" } as EventMeta;
const handlerReturning = (key: unknown) => ({ businessKey: () => key }) as unknown as LoadedHandler;

test.each([
  ["order-1", "order-1"],
  [42, "42"],
  [7n, "7"],
])("a business key %p is used as %p", (key, text) => {
  expect(businessKeyOf(handlerReturning(key), { meta, value: {} })).toBe(text);
});

// String(undefined) would make every event without the field share the key "undefined".
test.each([
  [undefined, "businessKey returned undefined for event e-1"],
  [null, "businessKey returned null for event e-1"],
  ["", "businessKey returned an empty string for event e-1"],
  [{ id: 1 }, "businessKey returned an object for event e-1"],
  [Number.NaN, "businessKey returned NaN for event e-1"],
])("a business key %p is an error", (key, message) => {
  expect(() => businessKeyOf(handlerReturning(key), { meta, value: {} })).toThrow(message);
});

// Keys PostgreSQL would refuse (or change) are refused before they reach it, with the reason that says so.
test.each([
  ["a\u0000b", "contains U+0000 at character 1"],
  ["order-\ud800", "contains a lone UTF-16 surrogate"],
  ["\udc00x", "contains a lone UTF-16 surrogate"],
  ["k".repeat(MAX_BUSINESS_KEY_BYTES + 1), `is ${MAX_BUSINESS_KEY_BYTES + 1} bytes of UTF-8`],
  ["é".repeat(MAX_BUSINESS_KEY_BYTES / 2 + 1), `is ${MAX_BUSINESS_KEY_BYTES + 2} bytes of UTF-8`],
])("an unstorable business key %#: %s", (key, message) => {
  let caught: unknown;
  try {
    businessKeyOf(handlerReturning(key), { meta, value: {} });
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(BusinessKeyError);
  expect(caught).toMatchObject({ reason: "unstorable-business-key", code: "unstorable-business-key", retriable: false });
  expect((caught as Error).message).toContain(message);
});

test("a key at the limit, with real non-ASCII text, is kept as it is", () => {
  const key = `${"k".repeat(MAX_BUSINESS_KEY_BYTES - 7)}🚢é`;
  expect(Buffer.byteLength(key)).toBe(MAX_BUSINESS_KEY_BYTES - 1);
  expect(businessKeyOf(handlerReturning(key), { meta, value: {} })).toBe(key);
});

test("a businessKey that throws is business-key-failed, with its message", () => {
  const handler = {
    businessKey: () => {
      throw new TypeError("Cannot read properties of null");
    },
  } as unknown as LoadedHandler;
  expect(() => businessKeyOf(handler, { meta, value: null })).toThrow("businessKey threw for event e-1: Cannot read properties of null");
});

test("a key-derived business key of a record whose Kafka key is binary says why it is missing", () => {
  const binaryMeta = { id: "e-2", key: null, keyBytes: Buffer.from([0xff]) } as EventMeta;
  const handler = { businessKey: (_v: unknown, m: EventMeta) => m.key } as unknown as LoadedHandler;
  expect(() => businessKeyOf(handler, { meta: binaryMeta, value: {} })).toThrow(
    "businessKey returned null for event e-2; it must return a non-empty string (or a finite number); the record's Kafka key is not valid UTF-8 text, so meta.key is null (meta.keyBytes has its bytes)",
  );
});

// Two JSON ids 9007199254740993 and 9007199254740992 both parse to ...992: used as a key they would merge.
test("an integer business key beyond 2^53 is refused: it may not be the sender's value", () => {
  const parsed = JSON.parse('{"id": 9007199254740993}').id as number;
  expect(() => businessKeyOf(handlerReturning(parsed), { meta, value: {} })).toThrow(
    "businessKey returned 9007199254740992 for event e-1: an integer beyond 2^53 has lost its precision and may not be the sender's value; send such ids as strings",
  );
  expect(businessKeyOf(handlerReturning(Number.MAX_SAFE_INTEGER), { meta, value: {} })).toBe("9007199254740991");
  expect(businessKeyOf(handlerReturning(1.5), { meta, value: {} })).toBe("1.5");
});
