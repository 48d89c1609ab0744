import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SchemaError } from "../errors.ts";
import { compileIdl } from "./idl.ts";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-idl-"));
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe("compileIdl", () => {
  test("compiles a protocol to one standalone schema per root record, keeping docs, defaults and logical types", async () => {
    write("common.avdl", `@namespace("shop.common") protocol Common { record Money { long cents; string currency = "EUR"; } }`);
    const file = write(
      "orders.avdl",
      `/** Order events. */
@namespace("shop.orders")
protocol OrderEvents {
  import idl "common.avdl";
  enum Channel { WEB, SHOP } = WEB;
  /** An order was placed. */
  record OrderPlaced {
    string orderId;
    shop.common.Money total;
    Channel channel = "WEB";
    union { null, string } coupon = null;
    timestamp_ms placedAt;
  }
}`,
    );
    const [compiled, ...others] = await compileIdl(file);
    expect(others).toEqual([]);
    expect(compiled!.name).toBe("shop.orders.OrderPlaced");
    expect(compiled!.schema).toMatchObject({ type: "record", name: "OrderPlaced", namespace: "shop.orders", doc: "An order was placed." });
    const text = JSON.stringify(compiled!.schema);
    expect(text).toContain('"name":"Money","namespace":"shop.common"');
    expect(text).toContain('"default":"WEB"');
    expect(text).toContain('"logicalType":"timestamp-millis"');
  });

  test.each([
    ["a missing semicolon", "record A {\n    string a\n    int b;\n  }", 5, 'expected ";", found "int"'],
    ["an unknown type name", "record A {\n    string a;\n    Strng b;\n  }", 5, "undefined type name: Strng"],
    ["the T? shorthand", "record A {\n    string? a;\n  }", 4, "write `union { null, T } name = null;`"],
    ["a default of the wrong type", 'record A {\n    int a = "x";\n  }', 4, 'incompatible field default "x"'],
    ["an import that does not exist", 'import idl "nope.avdl";\n  record A { string a; }', 3, "imports"],
  ])("%s is reported at its file and line", async (_label, body, line, message) => {
    const file = write(`bad-${line}-${Math.random().toString(36).slice(2)}.avdl`, `@namespace("x")\nprotocol P {\n  ${body}\n}\n`);
    const error = await compileIdl(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaError);
    expect((error as Error).message).toStartWith(`${file}:${line}`);
    expect((error as Error).message).toContain(message);
  });
});
