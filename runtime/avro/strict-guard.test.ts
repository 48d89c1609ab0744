import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DecodeError } from "../errors.ts";
import { parseSchema } from "./parse-schema.ts";
import { compileGuard } from "./strict-guard.ts";
import { maxLong, maxRecursionDepth, minLong, zeroByteItemFloor } from "./strict-reads.ts";

/** Avro's zig-zag varint of any 64-bit value (and beyond, for hostile tests), exactly. */
function varint(value: bigint | number): number[] {
  const v = BigInt(value);
  let u = v >= 0n ? v << 1n : (-v << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(u & 0x7fn);
    u >>= 7n;
    if (u) b |= 0x80;
    out.push(b);
  } while (u);
  return out;
}
const str = (text: string | number[]) => {
  const bytes = typeof text === "string" ? [...Buffer.from(text)] : text;
  return [...varint(bytes.length), ...bytes];
};
const bytesOf = (...parts: Array<number | number[]>) => Buffer.from(parts.flat());

const orderPlaced = parseSchema(JSON.parse(readFileSync(path.resolve(import.meta.dir, "../../schemas/order-placed.avsc"), "utf8")), "order-placed.avsc");
const guardOrder = compileGuard(orderPlaced);
const order = {
  orderId: "o-1",
  customerId: "c-1",
  totalCents: 1250,
  currency: "EUR",
  paymentMethod: "CARD",
  items: [{ sku: "sku-1", quantity: 2, unitPriceCents: 625 }],
  couponCode: null,
  placedAt: 1_760_000_000_000,
};
/** OrderPlaced's bytes with `orderId` given as raw bytes. */
const orderWithId = (id: number[]) => Buffer.concat([Buffer.from(str(id)), orderPlaced.toBuffer(order).subarray(str("o-1").length)]);

/** The DecodeError `guard(bytes)` throws, as `reason: message`; "(accepted)" when it throws nothing. */
function verdict(guard: (b: Buffer) => void, bytes: Buffer): string {
  try {
    guard(bytes);
    return "(accepted)";
  } catch (e) {
    if (e instanceof DecodeError) return `${e.reason}: ${e.message}`;
    throw e;
  }
}
const t = (schema: unknown) => compileGuard(parseSchema(schema, "test"));
const record = (fields: Array<[string, unknown]>, name = "R") => ({ type: "record", name, fields: fields.map(([n, type]) => ({ name: n, type })) });

describe("strict UTF-8", () => {
  test.each([
    ["…ff fe 41", [0x6f, 0x2d, 0xff, 0xfe, 0x41]],
    ["…fe ff 41", [0x6f, 0x2d, 0xfe, 0xff, 0x41]],
  ])("an orderId ending in %s is invalid-utf8 naming the field, never replaced", (_label, id) => {
    expect(verdict(guardOrder, orderWithId(id))).toStartWith("invalid-utf8: field orderId holds 5 bytes that are not valid UTF-8");
  });

  test.each([
    ["emoji", "order-😀-🚚"],
    ["CJK", "注文-漢字-東京"],
    ["a literal U+FFFD", "o-\uFFFD"],
    ["U+0000 (valid UTF-8; whether a key may hold it is another matter)", "o-\u0000"],
    ["200 bytes of mixed text (the native path)", `${"é漢😀a".repeat(20)}`],
  ])("real UTF-8 passes: %s", (_label, id) => {
    const bytes = orderPlaced.toBuffer({ ...order, orderId: id });
    expect(verdict(guardOrder, bytes)).toBe("(accepted)");
    expect((orderPlaced.fromBuffer(bytes) as { orderId: string }).orderId).toBe(id);
  });

  test.each([
    ["a multi-byte character cut by the length", [0xc3], "invalid-utf8"],
    ["an overlong encoding of '/'", [0xc0, 0xaf], "invalid-utf8"],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80], "invalid-utf8"],
    ["beyond U+10FFFF", [0xf4, 0x90, 0x80, 0x80], "invalid-utf8"],
    ["a long ASCII run, then one bad byte (the native path)", [...Buffer.from("a".repeat(100)), 0xff], "invalid-utf8"],
  ])("%s → %s", (_label, id, reason) => {
    expect(verdict(guardOrder, orderWithId(id as number[]))).toStartWith(`${reason}: field orderId`);
  });

  test("the check covers only the string's own bytes: a multi-byte varint right after a long string is fine", () => {
    const g = t(
      record([
        ["s", "string"],
        ["n", "long"],
      ]),
    );
    expect(verdict(g, bytesOf(str("x".repeat(100)), varint(1_000_000)))).toBe("(accepted)");
    expect(verdict(g, bytesOf(str("x".repeat(10)), varint(1_000_000)))).toBe("(accepted)");
  });

  test.each([
    ["a map key", record([["attrs", { type: "map", values: "int" }]]), bytesOf(varint(1), str([0x6b, 0xff]), varint(1), 0), "field attrs{key}"],
    ["a map value", record([["attrs", { type: "map", values: "string" }]]), bytesOf(varint(1), str("k"), str([0xfe]), 0), "field attrs{}"],
    ["an array item", record([["tags", { type: "array", items: "string" }]]), bytesOf(varint(2), str("ok"), str([0x80]), 0), "field tags[]"],
    [
      "a string inside nested unions and records",
      record([["gift", ["null", record([["note", ["null", "string"]]], "Gift")]]]),
      bytesOf(varint(1), varint(1), str([0xe2, 0x82])),
      "field gift.note",
    ],
  ])("in %s → invalid-utf8 naming the path", (_label, schema, bytes, field) => {
    expect(verdict(t(schema), bytes)).toStartWith(`invalid-utf8: ${field} `);
  });
});

describe("bounded: no count or length beyond the bytes", () => {
  // 48 bytes of OrderPlaced whose items array claims `count` items; each LineItem takes >= 3 bytes.
  const claiming = (count: number | bigint) => {
    const head = bytesOf(str("order-001"), str("cust-01"), varint(1), str("EUR"), 0, varint(count), str("sku"), 2, 2);
    return Buffer.concat([head, Buffer.alloc(48 - head.length)]);
  };

  test.each([
    ["2,000,000", 2_000_000],
    ["2^31 - 1", 2 ** 31 - 1],
    ["2^62", 2 ** 62],
    ["2^63 - 1 (beyond the longs avsc can represent)", 2n ** 63n - 1n],
  ])("a 48-byte record claiming %s items is refused before anything is allocated", (_label, count) => {
    const bytes = claiming(count);
    expect(bytes.length).toBe(48);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    for (let i = 0; i < 100; i++) expect(verdict(guardOrder, bytes)).toStartWith("count-exceeds-payload: field items[] declares");
    const ms = performance.now() - started;
    const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
    // avsc alone: 2,000,000 items took ~0.5 s and +120 MB; 40,000,000 took 10 s and +2.3 GB.
    expect(grownMb).toBeLessThan(8);
    expect(ms).toBeLessThan(500);
  });

  test.each([
    [
      "a string length beyond the payload",
      record([["s", "string"]]),
      bytesOf(varint(1_000_000), 0x61),
      "truncated-payload: field s declares 1000000 bytes of string but only 1 remain",
    ],
    ["a negative string length", record([["s", "string"]]), bytesOf(varint(-1)), "negative-length: field s declares a negative string (-1)"],
    ["a negative bytes length", record([["b", "bytes"]]), bytesOf(varint(-5), 1, 2, 3), "negative-length: field b"],
    [
      "a fixed longer than what is left",
      record([["h", { type: "fixed", name: "H", size: 16 }]]),
      bytesOf(1, 2, 3),
      "truncated-payload: field h needs 16 bytes but only 3 remain",
    ],
    ["a double cut short", record([["d", "double"]]), bytesOf(0, 0, 0, 0), "truncated-payload: field d needs 8 bytes"],
    [
      "a map count beyond the payload",
      record([["m", { type: "map", values: "long" }]]),
      bytesOf(varint(50), str("k"), 2, 0),
      "count-exceeds-payload: field m{} declares 50 map entries of at least 2 bytes each",
    ],
    [
      "a negative block size",
      record([["a", { type: "array", items: "int" }]]),
      bytesOf(varint(-2), varint(-4), 2, 4, 0),
      "negative-length: field a[] declares a negative block size",
    ],
    [
      "a block size beyond the payload",
      record([["a", { type: "array", items: "int" }]]),
      bytesOf(varint(-2), varint(400), 2, 4, 0),
      "truncated-payload: field a[] declares 400 bytes of block size",
    ],
    [
      "a block count its size cannot hold",
      record([["a", { type: "array", items: "int" }]]),
      bytesOf(varint(-3), varint(2), 2, 4, 6, 0),
      "count-exceeds-payload: field a[] declares 3 array items of at least 1 bytes each, but only 2 bytes remain",
    ],
    [
      "a block size that differs from its items",
      record([["a", { type: "array", items: "long" }]]),
      bytesOf(varint(-2), varint(3), 2, 4, 0),
      "block-size-mismatch: field a[] declares a block of 3 bytes, but its 2 array items take 2",
    ],
  ])("%s", (_label, schema, bytes, message) => {
    expect(verdict(t(schema), bytes)).toStartWith(message);
  });

  test("a block with a negative count and the right byte size is read like any other", () => {
    const g = t(record([["a", { type: "array", items: "long" }]]));
    expect(verdict(g, bytesOf(varint(-2), varint(3), varint(1), varint(-300), 0))).toBe("(accepted)");
  });

  describe("items that take no bytes share one budget per record", () => {
    const nulls = t(record([["a", { type: "array", items: "null" }]]));
    const empties = t(
      record([
        ["a", { type: "array", items: record([], "Empty") }],
        ["pad", "bytes"],
      ]),
    );
    test.each([
      ["1,024 nulls in a 3-byte record", nulls, bytesOf(varint(zeroByteItemFloor), 0), "(accepted)"],
      [
        "1,025 nulls in a 3-byte record",
        nulls,
        bytesOf(varint(zeroByteItemFloor + 1), 0),
        "too-many-items: field a[] declares 1025 array items that take no bytes; a record may hold at most 1024",
      ],
      ["two blocks adding up past the budget", nulls, bytesOf(varint(1_000), varint(1_000), 0), "too-many-items"],
      ["2^31 empty records", empties, bytesOf(varint(2 ** 31), 0, 0), "too-many-items"],
      ["as many empty records as the payload has bytes", empties, bytesOf(varint(3_000), 0, varint(2_995), Array(2_995).fill(0)), "(accepted)"],
    ])("%s → %s", (_label, g, bytes, expected) => {
      expect(verdict(g, bytes)).toStartWith(expected);
    });
  });
});

describe("numbers", () => {
  const long = t(record([["n", "long"]]));
  const int = t(record([["n", "int"]]));
  test.each([
    ["the largest long avsc decodes exactly", long, varint(maxLong), "(accepted)"],
    [
      "one more",
      long,
      varint(maxLong + 1),
      `long-out-of-range: field n holds 9007199254740991, outside the longs Ferry decodes exactly (${minLong} to ${maxLong})`,
    ],
    ["-2^52, the smallest long avsc decodes exactly", long, varint(minLong), "(accepted)"],
    ["-2^52 - 1 (avsc would decode it as +2^52)", long, varint(BigInt(minLong) - 1n), "long-out-of-range: field n holds -4503599627370497"],
    ["-9,007,199,254,740,990 (avsc would decode it as positive)", long, varint(-maxLong), "long-out-of-range"],
    ["2^63 - 1", long, varint(2n ** 63n - 1n), "long-out-of-range"],
    ["-2^63", long, varint(-(2n ** 63n)), "long-out-of-range"],
    [
      "a 10th byte with more than the 64th bit",
      long,
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
      "long-out-of-range: field n holds a number wider than 64 bits",
    ],
    ["an 11-byte varint", long, [...Array(10).fill(0x80), 0x00], "varint-too-long: field n holds a number longer than 10 bytes"],
    ["a varint of 0x80 bytes to the end", long, Array(40).fill(0x80), "varint-too-long"],
    ["a varint cut by the end of the payload", long, [0x80, 0x80], "truncated-payload: field n is cut off: the payload ends inside its varint"],
    ["a padded but valid 10-byte varint (0)", long, [...Array(9).fill(0x80), 0x00], "(accepted)"],
    ["the largest int", int, varint(2 ** 31 - 1), "(accepted)"],
    ["the smallest int", int, varint(-(2 ** 31)), "(accepted)"],
    ["an int beyond 32 bits", int, varint(2 ** 31), "int-out-of-range: field n holds a number wider than 32 bits"],
    ["a 6-byte int", int, [0x80, 0x80, 0x80, 0x80, 0x80, 0x00], "varint-too-long: field n holds a number longer than 5 bytes, the most an Avro int takes"],
  ])("%s", (_label, g, bytes, expected) => {
    expect(verdict(g, Buffer.from(bytes as number[]))).toStartWith(expected);
  });

  test("what the guard protects against: avsc 5.7.9 decodes -2^52 - 1 as a positive number", () => {
    const avscLong = parseSchema("long", "long");
    expect(avscLong.fromBuffer(Buffer.from(varint(BigInt(minLong) - 1n)))).toBe(2 ** 52);
    expect(avscLong.fromBuffer(Buffer.from(varint(minLong)))).toBe(minLong);
    expect(avscLong.fromBuffer(Buffer.from(varint(maxLong)))).toBe(maxLong);
    expect(() => avscLong.fromBuffer(Buffer.from(varint(maxLong + 1)))).toThrow("potential precision loss");
  });
});

describe("indexes, booleans, nesting, trailing bytes", () => {
  const node = { type: "record", name: "Node", fields: [{ name: "next", type: ["null", "Node"] }] };
  const chain = (depth: number) => bytesOf(Array(depth).fill(2), 0);
  test.each([
    [
      "a union index past its branches",
      t(record([["u", ["null", "string"]]])),
      bytesOf(varint(2)),
      "invalid-union-index: field u holds union branch 2; the union has 2 branches",
    ],
    ["a negative union index", t(record([["u", ["null", "string"]]])), bytesOf(varint(-1)), "invalid-union-index"],
    [
      "an enum index past its symbols",
      t(record([["e", { type: "enum", name: "E", symbols: ["A", "B"] }]])),
      bytesOf(varint(2)),
      "invalid-enum-index: field e holds symbol index 2; enum E has 2 symbols",
    ],
    ["a boolean byte of 2", t(record([["b", "boolean"]])), bytesOf(2), "invalid-boolean: field b holds byte 2, but a boolean is 0 or 1"],
    ["a missing boolean", t(record([["b", "boolean"]])), bytesOf(), "truncated-payload"],
    ["bytes after the value", t(record([["b", "boolean"]])), bytesOf(1, 7, 7), "trailing-bytes: the value ends at byte 1 of the 3-byte payload"],
    [`a recursive record ${maxRecursionDepth} levels deep`, t(node), chain(maxRecursionDepth), "(accepted)"],
    [
      `a recursive record ${maxRecursionDepth + 1} levels deep`,
      t(node),
      chain(maxRecursionDepth + 1),
      `too-deeply-nested: field Node.next nests record Node more than ${maxRecursionDepth} levels deep`,
    ],
  ])("%s", (_label, g, bytes, expected) => {
    expect(verdict(g, bytes)).toStartWith(expected);
  });
});

describe("valid data passes", () => {
  test("everything avsc writes for OrderPlaced passes (seeded random values)", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    const text = () =>
      Array.from({ length: Math.floor(next() * 40) }, () =>
        String.fromCodePoint(
          next() < 0.7 ? 32 + Math.floor(next() * 90) : next() < 0.5 ? 0xa0 + Math.floor(next() * 0xd700) : 0xe000 + Math.floor(next() * 0x2f000),
        ),
      ).join("");
    for (let i = 0; i < 500; i++) {
      const value = {
        orderId: text(),
        customerId: text(),
        totalCents: Math.floor((next() - 0.4) * 2 * 2 ** (next() * 52)),
        currency: text(),
        paymentMethod: ["CARD", "INVOICE", "VOUCHER"][i % 3],
        items: Array.from({ length: Math.floor(next() * 5) }, () => ({
          sku: text(),
          quantity: Math.floor((next() - 0.5) * 2 ** 31),
          unitPriceCents: Math.floor(next() * maxLong),
        })),
        couponCode: next() < 0.5 ? null : text(),
        placedAt: Math.floor(next() * 2 ** 45),
      };
      expect(verdict(guardOrder, orderPlaced.toBuffer(value))).toBe("(accepted)");
    }
  });
});

describe("the reader decides which bytes are text", () => {
  const writer = parseSchema(record([["b", ["null", "bytes"]]]), "writer");
  const bad = bytesOf(varint(1), str([0xff]));
  test.each([
    ["no reader: bytes are bytes", undefined, "(accepted)"],
    ["a reader union whose first branch able to read bytes is string (avsc picks it)", record([["b", ["null", "string", "bytes"]]]), "invalid-utf8: field b "],
    ["a reader union with bytes before string", record([["b", ["null", "bytes", "string"]]]), "(accepted)"],
    ["a reader that reads the union as a plain string", record([["b", ["null", "string"]]]), "invalid-utf8: field b "],
  ])("%s", (_label, reader, expected) => {
    const g = compileGuard(writer, reader ? parseSchema(reader, "reader") : undefined);
    expect(verdict(g, bad)).toStartWith(expected);
  });
});

describe("paths name the field where it is used", () => {
  const addr = { type: "record", name: "Address", fields: [{ name: "city", type: "string" }] };
  const g = t(
    record([
      ["billing", addr],
      ["shipping", "Address"],
    ]),
  );
  test.each([
    ["the first use", bytesOf(str([0xff]), str("x")), "invalid-utf8: field billing.city "],
    ["the second use of the same record type", bytesOf(str("x"), str([0xff])), "invalid-utf8: field shipping.city "],
  ])("%s", (_label, bytes, expected) => {
    expect(verdict(g, bytes)).toStartWith(expected);
  });

  test("a recursive record under a plain one: its fields and its depth are checked", () => {
    const tree = t(
      record([
        [
          "root",
          {
            type: "record",
            name: "Tree",
            fields: [
              { name: "label", type: "string" },
              { name: "kids", type: { type: "array", items: "Tree" } },
            ],
          },
        ],
      ]),
    );
    // root "a" with one kid "b" that has no kids.
    expect(verdict(tree, bytesOf(str("a"), varint(1), str("b"), 0, 0))).toBe("(accepted)");
    expect(verdict(tree, bytesOf(str("a"), varint(1), str([0xc3]), 0, 0))).toStartWith("invalid-utf8: field Tree.label ");
    const deep = bytesOf(
      Array.from({ length: maxRecursionDepth + 2 }, () => [...str("n"), ...varint(1)]).flat(),
      str("leaf"),
      0,
      Array(maxRecursionDepth + 2).fill(0),
    );
    expect(verdict(tree, deep)).toStartWith("too-deeply-nested: field Tree.kids[] nests record Tree");
  });
});
