import { describe, expect, test } from "bun:test";
import { parseJsonLines } from "./json-lines.ts";

describe("parseJsonLines", () => {
  test("plain lines are values; the key comes from a field; blank lines are skipped", () => {
    expect(parseJsonLines('{"orderId":"o-1","n":1}\n\n{"orderId":"o-2","n":2}\n', { keyField: "orderId" })).toEqual([
      { value: { orderId: "o-1", n: 1 }, key: "o-1" },
      { value: { orderId: "o-2", n: 2 }, key: "o-2" },
    ]);
  });

  test("envelope lines carry key, event id and headers", () => {
    expect(parseJsonLines('{"value":{"a":1},"key":"k","eventId":"e-1","headers":{"trace":"t"}}', { envelope: true })).toEqual([
      { value: { a: 1 }, key: "k", eventId: "e-1", headers: { trace: "t" } },
    ]);
  });

  test.each([
    ["invalid JSON", "{nope", {}, "input line 1 is not valid JSON"],
    ["a missing key field", '{"a":1}', { keyField: "orderId" }, "input line 1: the key field `orderId` is missing"],
    ["an envelope with an unknown property", '{"value":1,"kye":"x"}', { envelope: true }, "input line 1:"],
    ["an event id with a space", '{"value":1,"eventId":"a b"}', { envelope: true }, "`eventId` must be 1-200 printable ASCII"],
  ])("%s is an error naming the line", (_label, text, options, message) => {
    expect(() => parseJsonLines(text, options)).toThrow(message);
  });
});
