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
