// Unit tests of bunshim.cc under Bun, through the probe addon that
// scripts/build-kafka-addon.sh builds next to the Kafka addon. Each
// expectation is V8's (or Node's) documented behaviour for that function.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createSlabAllocator, KAFKA_BUFFER_GLOBAL } from "../buffer-slab.ts";

interface Probe {
  int32Value(v: unknown): number;
  integerValue(v: unknown): bigint;
  booleanValue(v: unknown): boolean;
  toObject(v: unknown): object;
  has(o: object, key: unknown): boolean;
  ownPropertyNames(o: object): Array<string | number>;
  isRegExp(v: unknown): boolean;
  regExpSource(re: RegExp): string;
  bufferHasInstance(v: unknown): boolean;
  bufferLength(v: unknown): number;
  bufferDataIsNull(v: unknown): boolean;
  bufferRoundTrip(v: ArrayBufferView): Buffer;
  encode(bytes: Uint8Array, encoding: number): string | Buffer;
  arrayLength(v: unknown): number;
  threadsWithRwlock(threads: number, rounds: number): number;
  globalResetRoundTrip(...values: unknown[]): unknown[];
}

const probePath = path.resolve(import.meta.dir, "../../../.cache/kafka-addon/current/shim-probe.node");
if (!existsSync(probePath)) {
  throw new Error(`${probePath} is missing: run scripts/build-kafka-addon.sh, which builds it with the Kafka addon`);
}
const probe = createRequire(import.meta.url)(probePath) as Probe;

// node::encoding, from node.h
const Encoding = { ASCII: 0, UTF8: 1, BASE64: 2, UCS2: 3, LATIN1: 4, HEX: 5, BUFFER: 6, BASE64URL: 7 } as const;

describe("v8::Value::Int32Value", () => {
  test.each([
    [42, 42],
    [-7, -7],
    [3.9, 3],
    [-3.9, -3],
    [2 ** 31, -(2 ** 31)],
    [2 ** 32 + 5, 5],
    [-(2 ** 32) - 1, -1],
    [1e20, 1661992960],
    [NaN, 0],
    [Infinity, 0],
    ["12", 12],
    [" 0x10 ", 16],
    ["abc", 0],
    [undefined, 0],
    [null, 0],
    [true, 1],
    [[], 0],
    [{ valueOf: () => 9 }, 9],
  ] as Array<[unknown, number]>)("ToInt32(%p) is %p", (input, expected) => {
    expect(probe.int32Value(input)).toBe(expected);
  });

  test("throws a TypeError for a Symbol or a BigInt, as ToNumber does", () => {
    expect(() => probe.int32Value(Symbol("s"))).toThrow(TypeError);
    expect(() => probe.int32Value(10n)).toThrow(TypeError);
  });
});

describe("v8::Value::IntegerValue", () => {
  test.each([
    [0, 0n],
    [3_000_000_000, 3_000_000_000n], // an offset past 2^31: must not wrap
    [2 ** 53 - 1, 9007199254740991n],
    [-1, -1n],
    [-2.7, -2n],
    [1e300, 9223372036854775807n],
    [-1e300, -9223372036854775808n],
    [NaN, 0n],
    ["1234567890123", 1234567890123n],
    [undefined, 0n],
    [null, 0n],
  ] as Array<[unknown, bigint]>)("IntegerValue(%p) is %p", (input, expected) => {
    expect(probe.integerValue(input)).toBe(expected);
  });

  test("throws a TypeError for a BigInt", () => {
    expect(() => probe.integerValue(5n)).toThrow(TypeError);
  });
});

describe("v8::Value::BooleanValue", () => {
  test.each([
    [true, true],
    [false, false],
    [0, false],
    [-0, false],
    [NaN, false],
    [1, true],
    ["", false],
    ["0", true],
    [null, false],
    [undefined, false],
    [{}, true],
    [[], true],
    [0n, false],
    [1n, true],
    [Symbol("s"), true],
    [() => 0, true],
  ] as Array<[unknown, boolean]>)("ToBoolean(%p) is %p", (input, expected) => {
    expect(probe.booleanValue(input)).toBe(expected);
  });
});

describe("v8::Value::ToObject", () => {
  test("returns objects themselves and wraps primitives", () => {
    const o = { a: 1 };
    expect(probe.toObject(o)).toBe(o);
    expect(probe.toObject("ab")).toBeInstanceOf(String);
    expect(probe.toObject(3)).toBeInstanceOf(Number);
  });

  test.each([null, undefined])("throws a TypeError for %p", (v) => {
    expect(() => probe.toObject(v)).toThrow(TypeError);
  });
});

describe("v8::Object::Has", () => {
  test("sees own and inherited properties, like the in operator", () => {
    const proto = { inherited: 1 };
    const o = Object.create(proto) as Record<string, unknown>;
    o.own = undefined;
    expect(probe.has(o, "own")).toBe(true);
    expect(probe.has(o, "inherited")).toBe(true);
    expect(probe.has(o, "toString")).toBe(true);
    expect(probe.has(o, "absent")).toBe(false);
    expect(probe.has([5], 0)).toBe(true);
  });
});

describe("v8::Object::GetOwnPropertyNames", () => {
  test("lists own enumerable string keys, array indices as numbers, no symbols", () => {
    const o: Record<string | symbol, unknown> = Object.create({ inherited: 1 });
    o.b = 1;
    o["10"] = 2;
    o["01"] = 3;
    o[Symbol("s")] = 4;
    o.a = 5;
    o["4294967295"] = 6; // 2^32 - 1 is not an array index
    Object.defineProperty(o, "hidden", { value: 7, enumerable: false });
    expect(probe.ownPropertyNames(o)).toEqual([10, "b", "01", "a", "4294967295"]);
  });

  test("works for the header objects the producer passes", () => {
    expect(probe.ownPropertyNames({ "x-trace": "t" })).toEqual(["x-trace"]);
  });
});

describe("v8::Value::IsRegExp and v8::RegExp::GetSource", () => {
  test("recognises regular expressions only", () => {
    expect(probe.isRegExp(/^orders\..*/)).toBe(true);
    expect(probe.isRegExp(/x/)).toBe(true);
    expect(probe.isRegExp("^orders")).toBe(false);
    expect(probe.isRegExp({ source: "x" })).toBe(false);
    expect(probe.isRegExp(null)).toBe(false);
  });

  test("returns the source as V8 stores it", () => {
    expect(probe.regExpSource(/^orders\..*$/)).toBe("^orders\\..*$");
    expect(probe.regExpSource(/a\/b/)).toBe("a\\/b");
    expect(probe.regExpSource(/(?:)/)).toBe("(?:)");
  });
});

describe("node::Buffer::{HasInstance, Data, Length}", () => {
  test("accept every ArrayBufferView, as Node does", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const v of [Buffer.from("abc"), bytes, new Uint16Array(2), new DataView(bytes.buffer), bytes.subarray(2, 5)]) {
      expect(probe.bufferHasInstance(v)).toBe(true);
      expect(probe.bufferLength(v)).toBe(v.byteLength);
    }
    for (const v of ["abc", 1, null, {}, [1, 2], new ArrayBuffer(2)]) {
      expect(probe.bufferHasInstance(v)).toBe(false);
      expect(probe.bufferLength(v)).toBe(0);
    }
  });

  test("read the bytes of a view at its offset", () => {
    const backing = Buffer.from("0123456789");
    expect(probe.bufferRoundTrip(backing.subarray(3, 7)).toString()).toBe("3456");
    expect([...probe.bufferRoundTrip(new Uint16Array([0x0102]))]).toEqual([0x02, 0x01]);
  });

  test("never return NULL data for an empty buffer (NULL would produce a tombstone)", () => {
    for (const v of [Buffer.alloc(0), Buffer.from(""), new Uint8Array(0), Buffer.from("ab").subarray(1, 1)]) {
      expect(probe.bufferDataIsNull(v)).toBe(false);
    }
  });
});

describe("node::Buffer::New (takes ownership of malloc'd memory)", () => {
  test("returns a real, unpooled Buffer with the bytes (no slab installed)", () => {
    const g = globalThis as Record<string, unknown>;
    const installed = g[KAFKA_BUFFER_GLOBAL];
    delete g[KAFKA_BUFFER_GLOBAL];
    try {
      const out = probe.bufferRoundTrip(Buffer.from([0, 255, 10]));
      expect(Buffer.isBuffer(out)).toBe(true);
      expect([...out]).toEqual([0, 255, 10]);
      expect(out.byteOffset).toBe(0);
      expect(out.buffer.byteLength).toBe(3);
    } finally {
      if (installed) g[KAFKA_BUFFER_GLOBAL] = installed;
    }
  });

  test("with the runtime's slab installed, small copies are views into one slab, large ones their own", () => {
    const g = globalThis as Record<string, unknown>;
    const installed = g[KAFKA_BUFFER_GLOBAL];
    g[KAFKA_BUFFER_GLOBAL] = createSlabAllocator(4096, 1024);
    try {
      const a = probe.bufferRoundTrip(Buffer.from([1, 2, 3]));
      const b = probe.bufferRoundTrip(Buffer.from([4, 5]));
      expect(Buffer.isBuffer(a)).toBe(true);
      expect([...a, ...b]).toEqual([1, 2, 3, 4, 5]);
      expect(a.buffer).toBe(b.buffer);
      expect(b.byteOffset).toBe(a.byteOffset + 8);
      const large = probe.bufferRoundTrip(Buffer.alloc(2048, 9));
      expect(large.buffer.byteLength).toBe(2048);
      // A broken allocator (wrong length) is not trusted: the copy gets its own buffer.
      g[KAFKA_BUFFER_GLOBAL] = () => Buffer.alloc(1);
      expect([...probe.bufferRoundTrip(Buffer.from([7, 8]))]).toEqual([7, 8]);
    } finally {
      if (installed) g[KAFKA_BUFFER_GLOBAL] = installed;
      else delete g[KAFKA_BUFFER_GLOBAL];
    }
  });

  test("handles length 0", () => {
    const out = probe.bufferRoundTrip(Buffer.alloc(0));
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.length).toBe(0);
  });

  test("does not leak or double-free over many calls", () => {
    const big = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 2000; i++) expect(probe.bufferRoundTrip(big).length).toBe(big.length);
  });
});

describe("node::TryEncode", () => {
  const bytes = Buffer.from([0x68, 0xc3, 0xa9, 0xff, 0x41]); // "hé", an invalid byte, "A"
  test.each([
    ["BUFFER", Encoding.BUFFER],
    ["UTF8", Encoding.UTF8],
    ["ASCII", Encoding.ASCII],
    ["LATIN1", Encoding.LATIN1],
    ["HEX", Encoding.HEX],
    ["BASE64", Encoding.BASE64],
    ["BASE64URL", Encoding.BASE64URL],
    ["UCS2", Encoding.UCS2],
  ] as const)("%s decodes like Buffer#toString", (name, code) => {
    const out = probe.encode(bytes, code);
    if (name === "BUFFER") {
      expect(Buffer.isBuffer(out)).toBe(true);
      expect(Buffer.compare(out as Buffer, bytes)).toBe(0);
    } else {
      expect(out).toBe(bytes.toString(name.toLowerCase() as BufferEncoding));
    }
  });

  test("ascii clears the high bit, as Node documents", () => {
    expect(probe.encode(Buffer.from([0xc1]), Encoding.ASCII)).toBe("A");
  });

  test("an unknown encoding throws instead of guessing", () => {
    expect(() => probe.encode(bytes, 99)).toThrow(TypeError);
  });
});

describe("v8::Array::Length (wrapped)", () => {
  test.each([
    [[1, 2, 3], 3],
    [[], 0],
    [null, 0],
    [undefined, 0],
    [{ length: 5 }, 0],
  ] as Array<[unknown, number]>)("Length(%p) is %p without crashing", (v, expected) => {
    expect(probe.arrayLength(v)).toBe(expected);
  });
});

describe("v8::Global::Reset (api_internal::DisposeGlobal, wrapped)", () => {
  test("releases the object: once reset, it can be garbage collected", async () => {
    const refs: WeakRef<object>[] = [];
    (() => {
      for (let i = 0; i < 50; i++) {
        const held = { i, payload: Buffer.alloc(1024, i) };
        refs.push(new WeakRef(held));
        probe.globalResetRoundTrip(held);
      }
    })();
    for (let i = 0; i < 5 && refs.some((r) => r.deref() !== undefined); i++) {
      Bun.gc(true);
      await Bun.sleep(10);
    }
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
  });

  test("leaves values that share the isolate's slots intact (undefined, null, true, false) and reads others back", () => {
    for (let round = 0; round < 3; round++) {
      expect(probe.globalResetRoundTrip(undefined, null, true, false, 0, 42, -1.5, "s", 2 ** 40)).toEqual([
        undefined,
        null,
        true,
        false,
        0,
        42,
        -1.5,
        "s",
        2 ** 40,
      ]);
    }
    expect(probe.toObject(true)).toBeInstanceOf(Boolean);
    expect(probe.booleanValue(undefined)).toBe(false);
  });
});

describe("libuv rwlock and thread wrappers", () => {
  test("uv_thread_create/join and uv_rwlock_* exclude writers across threads", () => {
    expect(probe.threadsWithRwlock(8, 20_000)).toBe(8 * 20_000);
  });
});
