import { expect, test } from "bun:test";
import type { EventMeta } from "../handlers/contract.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { businessKeyOf } from "./unit-of-work.ts";

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
