import { describe, expect, test } from "bun:test";
import { parseSchema } from "./parse-schema.ts";
import { rootRecords, standaloneSchema } from "./standalone.ts";

// What avsc's assembleProtocol makes of an IDL protocol with namespace "shop.orders".
const types = [
  { type: "enum", name: "PaymentMethod", symbols: ["CARD", "INVOICE"], default: "CARD" },
  {
    type: "record",
    name: "LineItem",
    fields: [
      { name: "sku", type: "string" },
      { name: "price", type: { type: "bytes", logicalType: "decimal", precision: 9, scale: 2 } },
    ],
  },
  { type: "record", name: "Address", namespace: "shop.common", fields: [{ name: "city", type: "string" }] },
  {
    type: "record",
    name: "OrderPlaced",
    doc: "An order was placed.",
    fields: [
      { name: "method", type: "PaymentMethod", default: "CARD" },
      { name: "items", type: { type: "array", items: "LineItem" } },
      { name: "billing", type: "shop.common.Address" },
      { name: "shipping", type: ["null", "shop.common.Address"], default: null },
      { name: "gift", type: ["null", "LineItem"], default: null },
    ],
  },
  { type: "record", name: "OrderCancelled", fields: [{ name: "reason", type: "string" }] },
];

describe("standaloneSchema", () => {
  const schema = standaloneSchema(types, "shop.orders", "shop.orders.OrderPlaced");

  test("defines each referenced type inline once, then refers to it by full name", () => {
    const fields = schema.fields as Array<{ name: string; type: unknown }>;
    expect(schema).toMatchObject({ type: "record", name: "OrderPlaced", namespace: "shop.orders", doc: "An order was placed." });
    expect(fields[0]!.type).toEqual({ type: "enum", name: "PaymentMethod", namespace: "shop.orders", symbols: ["CARD", "INVOICE"], default: "CARD" });
    expect(fields[2]!.type).toMatchObject({ type: "record", name: "Address", namespace: "shop.common" });
    expect(fields[3]!.type).toEqual(["null", "shop.common.Address"]);
    expect(fields[4]!.type).toEqual(["null", "shop.orders.LineItem"]);
  });

  test("keeps attributes avsc would drop: enum default, logical type with precision and scale", () => {
    expect(JSON.stringify(schema)).toContain('"default":"CARD"');
    expect(JSON.stringify(schema)).toContain('"logicalType":"decimal","precision":9,"scale":2');
  });

  test("the result parses on its own", () => {
    expect(parseSchema(schema, "standalone").name).toBe("shop.orders.OrderPlaced");
  });

  test("an undefined reference is named", () => {
    expect(() => standaloneSchema([{ type: "record", name: "A", fields: [{ name: "x", type: "Nope" }] }], "n", "n.A")).toThrow("undefined type name: Nope");
  });
});

test("rootRecords: the records nothing else refers to", () => {
  expect(rootRecords(types, "shop.orders").sort()).toEqual(["shop.orders.OrderCancelled", "shop.orders.OrderPlaced"]);
});
