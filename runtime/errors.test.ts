import { expect, test } from "bun:test";
import { coerceError, FerryError } from "./errors.ts";

const circular: Record<string, unknown> = {};
circular.self = circular;

test.each([
  ["a string", "a plain string", "non-Error value thrown: a plain string"],
  ["undefined", undefined, "non-Error value thrown: undefined"],
  ["null", null, "non-Error value thrown: null"],
  ["an object", { code: 7 }, 'non-Error value thrown: {"code":7}'],
  ["a circular object", circular, "non-Error value thrown: [object Object]"],
  ["a symbol", Symbol("s"), "non-Error value thrown: Symbol(s)"],
  // A handler's thrown value reaches the dead letter headers through here: it must never throw again.
  [
    "a value whose toJSON and toString throw",
    {
      toJSON() {
        throw new Error("no JSON");
      },
      toString() {
        throw new Error("no string");
      },
    },
    "non-Error value thrown: an unprintable object",
  ],
])("coerceError describes %s without throwing", (_label, thrown, message) => {
  const e = coerceError(thrown);
  expect(e).toBeInstanceOf(FerryError);
  expect(e.message).toBe(message);
  expect(e.cause).toBe(thrown);
});

test("coerceError returns an Error as it is", () => {
  const error = new RangeError("out");
  expect(coerceError(error)).toBe(error);
});
