import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DecodeError } from "../errors.ts";
import { createAvroDecoder, type WriterSchema } from "./decoder.ts";
import { parseSchema } from "./parse-schema.ts";
import { frame } from "./wire-format.ts";

const v1 = parseSchema(
  {
    type: "record",
    name: "Order",
    namespace: "shop",
    fields: [
      { name: "id", type: "string" },
      { name: "total", type: "int" },
    ],
  },
  "v1",
);
const v2 = parseSchema(
  {
    type: "record",
    name: "Order",
    namespace: "shop",
    fields: [
      { name: "id", type: "string" },
      { name: "total", type: "long" },
      { name: "currency", type: "string", default: "EUR" },
    ],
  },
  "v2",
);
const other = parseSchema({ type: "record", name: "Refund", fields: [{ name: "x", type: "int" }] }, "other");

const schemas = new Map<number, WriterSchema>([
  [1, { kind: "avro", type: v1 }],
  [2, { kind: "avro", type: v2 }],
  [3, { kind: "avro", type: other }],
  [4, { kind: "missing", detail: "40403 Schema not found" }],
  [5, { kind: "unsupported", schemaType: "PROTOBUF" }],
]);
const writers = { peek: (id: number) => schemas.get(id) };

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return `${e.reason}: ${e.message}`;
    throw e;
  }
  throw new Error("expected a DecodeError");
}

describe("createAvroDecoder", () => {
  const decodeV2 = createAvroDecoder({ reader: v2, writers });
  const v1Bytes = frame(1, v1.toBuffer({ id: "o-1", total: 42 }));

  test("resolves a v1 writer to the v2 reader: promotion and default applied", () => {
    expect(decodeV2(v1Bytes)).toEqual({ id: "o-1", total: 42, currency: "EUR" });
  });

  test("reads a v2 writer with an older reader that lacks its fields (they are skipped)", () => {
    const idOnly = parseSchema({ type: "record", name: "Order", namespace: "shop", fields: [{ name: "id", type: "string" }] }, "v0");
    const decodeOld = createAvroDecoder({ reader: idOnly, writers });
    expect(decodeOld(frame(2, v2.toBuffer({ id: "o-2", total: 7, currency: "USD" })))).toEqual({ id: "o-2" });
  });

  test("a v1 reader cannot read v2's long total: schema-mismatch naming the field", () => {
    const decodeV1 = createAvroDecoder({ reader: v1, writers });
    expect(reasonOf(() => decodeV1(frame(2, v2.toBuffer({ id: "o-2", total: 7, currency: "USD" }))))).toContain(
      "Order.total: type-mismatch (reader int, writer long)",
    );
  });

  test("without a reader schema, decodes with the writer's", () => {
    const generic = createAvroDecoder({ writers });
    expect(generic(frame(2, v2.toBuffer({ id: "o-3", total: 1, currency: "CHF" })))).toEqual({ id: "o-3", total: 1, currency: "CHF" });
  });

  test("decodes records into plain objects", () => {
    expect(Object.getPrototypeOf(decodeV2(v1Bytes))).not.toHaveProperty("toBuffer");
  });

  test.each([
    ["JSON bytes", Buffer.from('{"id":"x"}'), "bad-magic-byte"],
    ["a header cut short", Buffer.from([0, 0, 0]), "truncated-header"],
    ["an id the registry does not know", frame(4, Buffer.from([2, 65, 2])), "unknown-schema-id"],
    ["a Protobuf schema id", frame(5, Buffer.from([])), "unsupported-schema-type"],
    ["a writer whose record the reader cannot read", frame(3, other.toBuffer({ x: 1 })), "schema-mismatch"],
    ["a payload cut short", v1Bytes.subarray(0, v1Bytes.length - 1), "truncated-payload"],
    ["a payload with bytes left over", Buffer.concat([v1Bytes, Buffer.from([0])]), "trailing-bytes"],
  ])("%s → DecodeError %p", (_label, bytes, reason) => {
    expect(reasonOf(() => decodeV2(bytes))).toStartWith(`${reason}:`);
  });

  test("the mismatch message names the writer, the reader and the field", () => {
    expect(reasonOf(() => decodeV2(frame(3, other.toBuffer({ x: 1 }))))).toContain(
      "writer schema id 3 (Refund) cannot be read with the handler's reader schema (shop.Order)",
    );
  });

  test("an id that was never fetched is not the event's fault", () => {
    expect(() => decodeV2(frame(99, Buffer.alloc(0)))).toThrow("was not fetched before decoding");
  });
});

describe("createAvroDecoder is strict: the writer schema's guard runs first", () => {
  const withNote = parseSchema(
    {
      type: "record",
      name: "Order",
      namespace: "shop",
      fields: [
        { name: "id", type: "string" },
        { name: "total", type: "int" },
        { name: "note", type: "string" },
      ],
    },
    "v1+note",
  );
  const asBytes = parseSchema(
    {
      type: "record",
      name: "Order",
      namespace: "shop",
      fields: [
        { name: "id", type: "bytes" },
        { name: "total", type: "int" },
      ],
    },
    "bytes id",
  );
  const strict = new Map<number, WriterSchema>([
    [1, { kind: "avro", type: v1 }],
    [6, { kind: "avro", type: withNote }],
    [7, { kind: "avro", type: asBytes }],
  ]);
  const strictWriters = { peek: (id: number) => strict.get(id) };
  const idBytes = (id: number[], rest: Buffer) => Buffer.concat([Buffer.from([id.length * 2, ...id]), rest]);

  test("two ids differing only in invalid bytes are both refused, not decoded to one string", () => {
    const decode = createAvroDecoder({ reader: v2, writers: strictWriters });
    const total = v1.toBuffer({ id: "", total: 42 }).subarray(1);
    const first = reasonOf(() => decode(frame(1, idBytes([0x6f, 0xff, 0xfe, 0x41], total))));
    const second = reasonOf(() => decode(frame(1, idBytes([0x6f, 0xfe, 0xff, 0x41], total))));
    expect(first).toBe("invalid-utf8: field id holds 4 bytes that are not valid UTF-8 (at byte 1 of the 6-byte payload); written with schema id 1");
    expect(second).toStartWith("invalid-utf8: field id holds 4 bytes");
  });

  test("a writer field the reader skips is checked too: its bytes are part of the event", () => {
    const bad = Buffer.concat([v1.toBuffer({ id: "o-1", total: 1 }), Buffer.from([4, 0xc3, 0x28])]);
    expect(reasonOf(() => createAvroDecoder({ reader: v2, writers: strictWriters })(frame(6, bad)))).toStartWith("invalid-utf8: field note ");
  });

  test("bytes the reader reads as a string (string↔bytes promotion) must be UTF-8; read as bytes they are any bytes", () => {
    const value = frame(7, Buffer.concat([Buffer.from([4, 0xff, 0xfe]), Buffer.from([2])]));
    expect(reasonOf(() => createAvroDecoder({ reader: v1, writers: strictWriters })(value))).toStartWith("invalid-utf8: field id ");
    expect(createAvroDecoder({ writers: strictWriters })(value)).toEqual({ id: Buffer.from([0xff, 0xfe]), total: 1 });
    const good = frame(7, asBytes.toBuffer({ id: Buffer.from("é-1"), total: 3 }));
    expect(createAvroDecoder({ reader: v1, writers: strictWriters })(good)).toEqual({ id: "é-1", total: 3 });
  });

  test("resolution still applies after the guard: promotion, defaults, non-ASCII text", () => {
    const decode = createAvroDecoder({ reader: v2, writers: strictWriters });
    expect(decode(frame(1, v1.toBuffer({ id: "注文-😀", total: 7 })))).toEqual({ id: "注文-😀", total: 7, currency: "EUR" });
  });
});

describe("createAvroDecoder is bounded: avsc never sees a count the bytes cannot hold", () => {
  const orderPlaced = parseSchema(JSON.parse(readFileSync(path.resolve(import.meta.dir, "../../schemas/order-placed.avsc"), "utf8")), "order-placed.avsc");
  const decode = createAvroDecoder({ reader: orderPlaced, writers: { peek: () => ({ kind: "avro", type: orderPlaced }) } });
  const zigzag = (n: number) => {
    const out: number[] = [];
    for (let u = n * 2; ; u = Math.floor(u / 128)) {
      if (u < 128) return [...out, u];
      out.push((u % 128) | 0x80);
    }
  };
  const str = (s: string) => [...zigzag(s.length), ...Buffer.from(s)];
  /** 48 bytes of OrderPlaced: ids, total, currency, enum, then `items` claiming `count` LineItems. */
  const claiming = (count: number) => {
    const head = [...str("order-001"), ...str("cust-01"), 2, ...str("EUR"), 0, ...zigzag(count), ...str("sku"), 2, 2];
    return frame(1, Buffer.concat([Buffer.from(head), Buffer.alloc(48 - head.length)]));
  };

  test.each([
    ["2,000,000", 2_000_000],
    ["~2^31", 2 ** 31 - 1],
  ])("a 48-byte record claiming %s items is refused at once, and memory does not grow", (_label, count) => {
    const value = claiming(count);
    expect(value.length).toBe(53);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    // avsc alone: 2,000,000 items took ~0.5 s and +120 MB for ONE record; ~2^31 would need ~100 GB.
    for (let i = 0; i < 100; i++) expect(reasonOf(() => decode(value))).toStartWith(`count-exceeds-payload: field items[] declares ${count} array items`);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect((process.memoryUsage().rss - before) / 2 ** 20).toBeLessThan(8);
  });
});
