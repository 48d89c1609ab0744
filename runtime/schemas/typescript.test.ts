import { describe, expect, test } from "bun:test";
import { parseSchema } from "../avro/parse-schema.ts";
import { typescriptDeclarations } from "./typescript.ts";

const ts = (schema: object) => typescriptDeclarations(parseSchema(schema, "test.avsc"), "test.avsc");

describe("typescriptDeclarations", () => {
  test("a record with every kind of field", () => {
    const out = ts({
      type: "record",
      name: "OrderPlaced",
      namespace: "shop.orders",
      doc: "An order was placed.",
      fields: [
        { name: "orderId", type: "string", doc: "Unique per order." },
        { name: "totalCents", type: "long" },
        { name: "paid", type: "boolean" },
        { name: "status", type: { type: "enum", name: "Status", symbols: ["NEW", "PAID"] } },
        { name: "items", type: { type: "array", items: { type: "record", name: "Item", fields: [{ name: "sku", type: "string" }] } } },
        { name: "tags", type: { type: "map", values: "string" } },
        { name: "coupon", type: ["null", "string"], default: null },
        { name: "hash", type: { type: "fixed", name: "Hash", size: 4 } },
        { name: "placedAt", type: { type: "long", logicalType: "timestamp-millis" } },
      ],
    });
    expect(out).toContain('export type Status = "NEW" | "PAID";');
    expect(out).toContain("export interface Item {\n  sku: string;\n}");
    expect(out).toContain("/**\n * An order was placed.\n *\n * Avro record `shop.orders.OrderPlaced`.\n */\nexport interface OrderPlaced {");
    expect(out).toContain("  /** Unique per order. */\n  orderId: string;");
    expect(out).toContain("  totalCents: number;");
    expect(out).toContain("  items: Array<Item>;");
    expect(out).toContain("  tags: Record<string, string>;");
    expect(out).toContain("  coupon: null | string;");
    expect(out).toContain("  hash: Buffer;");
    expect(out).toContain("  placedAt: number;");
    expect(out.indexOf("interface Item")).toBeLessThan(out.indexOf("interface OrderPlaced"));
  });

  test("a union avsc cannot tell apart by value is wrapped, as the decoder returns it", () => {
    const rec = (name: string) => ({ type: "record", name, namespace: "n", fields: [{ name: "x", type: "int" }] });
    const out = ts({ type: "record", name: "R", namespace: "n", fields: [{ name: "payment", type: ["null", rec("Card"), rec("Invoice")] }] });
    expect(out).toContain('  payment: null | { "n.Card": Card } | { "n.Invoice": Invoice };');
  });

  test("a recursive record refers to itself", () => {
    const out = ts({ type: "record", name: "Node", fields: [{ name: "next", type: ["null", "Node"] }] });
    expect(out).toContain("  next: null | Node;");
  });

  test("two types with the same short name are refused", () => {
    const rec = (ns: string) => ({ type: "record", name: "Money", namespace: ns, fields: [] });
    expect(() =>
      ts({
        type: "record",
        name: "R",
        fields: [
          { name: "a", type: rec("x") },
          { name: "b", type: rec("y") },
        ],
      }),
    ).toThrow("two types are named Money");
  });
});
