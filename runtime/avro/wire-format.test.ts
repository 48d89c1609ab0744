import { describe, expect, test } from "bun:test";
import { DecodeError } from "../errors.ts";
import { frame, peekSchemaId, unframe } from "./wire-format.ts";

describe("frame / unframe", () => {
  test("round-trips the schema id (big-endian, unsigned) and the payload", () => {
    const framed = frame(0x01020304, Buffer.from([7, 8]));
    expect([...framed]).toEqual([0, 1, 2, 3, 4, 7, 8]);
    expect(unframe(framed)).toEqual({ schemaId: 0x01020304, payload: Buffer.from([7, 8]) });
    expect(unframe(frame(0xffffffff, Buffer.alloc(0))).schemaId).toBe(0xffffffff);
  });

  test("refuses an id that does not fit 4 unsigned bytes", () => {
    expect(() => frame(-1, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => frame(2 ** 32, Buffer.alloc(0))).toThrow(RangeError);
  });

  test.each([
    ["an empty value", [], "empty-value"],
    ["JSON text", [...Buffer.from('{"a":1}')], "bad-magic-byte"],
    ["a magic byte with a 3-byte id", [0, 0, 0, 1], "truncated-header"],
  ])("%s is a DecodeError with reason %p", (_label, bytes, reason) => {
    let caught: unknown;
    try {
      unframe(Buffer.from(bytes as number[]));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect((caught as DecodeError).reason).toBe(reason as string);
  });

  test("the bad-magic-byte message names the byte found", () => {
    expect(() => unframe(Buffer.from("{}"))).toThrow("starts with byte 0x7b");
  });
});

describe("peekSchemaId", () => {
  test.each([
    ["a framed value", frame(42, Buffer.from([1])), 42],
    ["a header without payload", frame(7, Buffer.alloc(0)), 7],
    ["null", null, null],
    ["too short", Buffer.from([0, 0, 1]), null],
    ["another first byte", Buffer.from([1, 0, 0, 0, 1]), null],
  ])("%s → %p", (_label, value, id) => {
    expect(peekSchemaId(value as Buffer | null)).toBe(id as number | null);
  });
});
