/**
 * The fuzz test's judge of Avro payloads: a plain reader of a schema's JSON, written from the
 * Avro specification and the limits the README promises ("Avro decoding is strict"), in BigInt
 * arithmetic with no shortcuts. Like checker.ts it imports nothing from runtime/: it must not
 * share a bug with the guard it judges. It also reports where each number and string sits, so
 * the mutator can aim at counts, lengths and text.
 */

type Json = string | Json[] | { [key: string]: Json };
export type SchemaJson = Json;

export type Verdict = { ok: true; value: unknown } | { ok: false; reason: string; at: number };

/** Where a value sits in a payload (byte offsets, end exclusive). */
export interface Span {
  kind: "count" | "length" | "long" | "int" | "index" | "boolean" | "text";
  start: number;
  end: number;
}

/** The longs Ferry promises to decode exactly (−2^52 … 9,007,199,254,740,990). */
export const longRange = { min: -(2n ** 52n), max: 9_007_199_254_740_990n };
/** Items that encode in no bytes: at most max(1,024, payload bytes) per record. */
export const zeroByteItemFloor = 1_024;

class Refused extends Error {
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {
    super(reason);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes `payload` with `schema` or says which rule it breaks first; `spans` collects where numbers and text sit. */
export function judge(schema: SchemaJson, payload: Uint8Array, spans?: Span[]): Verdict {
  const named = new Map<string, Json>();
  const end = BigInt(payload.length);
  const budget = BigInt(Math.max(zeroByteItemFloor, payload.length));
  let pos = 0;
  let zeroItems = 0n;
  const refuse = (reason: string): never => {
    throw new Refused(reason, pos);
  };

  const varint = (maxBytes: number, kind: Span["kind"]): bigint => {
    const start = pos;
    let u = 0n;
    for (let i = 1; ; i++) {
      if (pos >= payload.length) refuse("truncated-payload");
      const b = payload[pos++]!;
      u |= BigInt(b & 0x7f) << BigInt(7 * (i - 1));
      if (b < 0x80) break;
      if (i === maxBytes) refuse("varint-too-long");
    }
    if (u >= 2n ** BigInt(maxBytes === 5 ? 32 : 64)) refuse(maxBytes === 5 ? "int-out-of-range" : "long-out-of-range");
    spans?.push({ kind, start, end: pos });
    return u & 1n ? -(u >> 1n) - 1n : u >> 1n;
  };
  const length = (): number => {
    const n = varint(10, "length");
    if (n < 0n) refuse("negative-length");
    if (BigInt(pos) + n > end) refuse("truncated-payload");
    return Number(n);
  };
  const take = (n: number) => {
    if (pos + n > payload.length) refuse("truncated-payload");
    pos += n;
    return payload.subarray(pos - n, pos);
  };
  const text = (): string => {
    const n = length();
    spans?.push({ kind: "text", start: pos, end: pos + n });
    try {
      return utf8.decode(take(n));
    } catch {
      pos -= n;
      return refuse("invalid-utf8");
    }
  };

  /** The fewest bytes a value of `type` takes. */
  const minBytes = (type: Json): bigint => {
    if (typeof type === "string") {
      if (named.has(type)) return minBytes(named.get(type)!);
      return type === "null" ? 0n : type === "float" ? 4n : type === "double" ? 8n : 1n;
    }
    if (Array.isArray(type)) {
      let least = minBytes(type[0]!);
      for (const branch of type) if (minBytes(branch) < least) least = minBytes(branch);
      return 1n + least;
    }
    switch (type.type) {
      case "record":
        return (type.fields as Array<{ type: Json }>).reduce((sum, f) => sum + minBytes(f.type), 0n);
      case "fixed":
        return BigInt(type.size as unknown as number);
      default:
        return typeof type.type === "string" && !["enum", "array", "map"].includes(type.type) ? minBytes(type.type) : 1n;
    }
  };

  const blocks = (item: Json, read: () => void, keyed: boolean) => {
    const min = minBytes(item) + (keyed ? 1n : 0n);
    for (;;) {
      let n = varint(10, "count");
      if (n === 0n) return;
      let blockEnd = -1n;
      if (n < 0n) {
        n = -n;
        blockEnd = BigInt(length()) + BigInt(pos);
      }
      const left = (blockEnd >= 0n ? blockEnd : end) - BigInt(pos);
      if (min > 0n && n * min > left) refuse("count-exceeds-payload");
      if (min === 0n) {
        zeroItems += n;
        if (zeroItems > budget) refuse("too-many-items");
      }
      for (let i = 0n; i < n; i++) read();
      if (blockEnd >= 0n && BigInt(pos) !== blockEnd) refuse("block-size-mismatch");
    }
  };

  const read = (type: Json): unknown => {
    if (Array.isArray(type)) {
      const i = varint(10, "index");
      if (i < 0n || i >= BigInt(type.length)) refuse("invalid-union-index");
      return read(type[Number(i)]!);
    }
    if (typeof type !== "string") {
      switch (type.type) {
        case "record": {
          named.set(type.name as string, type);
          const out: Record<string, unknown> = {};
          for (const f of type.fields as Array<{ name: string; type: Json }>) out[f.name] = read(f.type);
          return out;
        }
        case "enum": {
          named.set(type.name as string, type);
          const symbols = type.symbols as string[];
          const i = varint(10, "index");
          if (i < 0n || i >= BigInt(symbols.length)) refuse("invalid-enum-index");
          return symbols[Number(i)];
        }
        case "fixed":
          named.set(type.name as string, type);
          return Buffer.from(take(type.size as unknown as number));
        case "array": {
          const out: unknown[] = [];
          blocks(type.items!, () => out.push(read(type.items!)), false);
          return out;
        }
        case "map": {
          const out: Record<string, unknown> = {};
          blocks(
            type.values!,
            () => {
              const key = text();
              out[key] = read(type.values!);
            },
            true,
          );
          return out;
        }
        default:
          return read(type.type!);
      }
    }
    switch (type) {
      case "null":
        return null;
      case "boolean": {
        if (pos >= payload.length) refuse("truncated-payload");
        if (payload[pos]! > 1) refuse("invalid-boolean");
        spans?.push({ kind: "boolean", start: pos, end: pos + 1 });
        return payload[pos++] === 1;
      }
      case "int":
        return Number(varint(5, "int"));
      case "long": {
        const v = varint(10, "long");
        if (v < longRange.min || v > longRange.max) refuse("long-out-of-range");
        return Number(v);
      }
      case "float":
        return Buffer.from(take(4)).readFloatLE(0);
      case "double":
        return Buffer.from(take(8)).readDoubleLE(0);
      case "bytes":
        return Buffer.from(take(length()));
      case "string":
        return text();
      default:
        if (!named.has(type)) throw new Error(`the oracle does not know type ${type}`);
        return read(named.get(type)!);
    }
  };

  try {
    const value = read(schema);
    if (pos !== payload.length) refuse("trailing-bytes");
    return { ok: true, value };
  } catch (e) {
    if (e instanceof Refused) return { ok: false, reason: e.reason, at: e.at };
    throw e;
  }
}
