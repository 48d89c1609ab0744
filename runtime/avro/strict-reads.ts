/**
 * The reads the strict guard's generated code calls (strict-guard.ts): each checks one value at
 * the cursor and moves past it, allocating nothing, or throws a DecodeError naming the field
 * (by index into the guard's paths) and the byte. The generated code of every schema calls these
 * same few functions with the same argument shapes, so they stay monomorphic and inlinable.
 */
import { isUtf8 } from "node:buffer";
import { DecodeError } from "../errors.ts";

/** Items that encode in 0 bytes may number at most this many per record, or the payload's byte count if larger. */
export const zeroByteItemFloor = 1_024;
/** Nesting of recursive records allowed before a record is refused (avsc decodes recursively, on the stack). */
export const maxRecursionDepth = 256;
/** The largest long avsc decodes exactly (its `isSafeLong` bound). */
export const maxLong = 9_007_199_254_740_990;
/** The smallest long avsc decodes exactly: below it, avsc's float arithmetic loses the sign. */
export const minLong = -(2 ** 52);

export interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
  /** Field paths of the guard being run, by index: `orderId`, `items[].sku`, `tags{key}`. */
  paths: readonly string[];
  zeroItems: number;
  zeroBudget: number;
  depth: number;
  /** Set by `count` for the block just read: its end and declared size, or -1 when it declared none. */
  blockEnd: number;
  blockSize: number;
}

function fail(c: Cursor, path: number, reason: string, what: string): never {
  throw new DecodeError(reason, `field ${c.paths[path]} ${what} (at byte ${c.pos} of the ${c.end}-byte payload)`);
}

/**
 * Reads a zig-zag varint of at most `maxBytes` bytes. Returns the value exactly when |value| < 2^53;
 * beyond that, a number at least that large with the right sign (enough for every bound here).
 */
function varint(c: Cursor, path: number, maxBytes: number): number {
  const buf = c.buf;
  let pos = c.pos;
  if (pos >= c.end) fail(c, path, "truncated-payload", "is cut off: the payload ends before it");
  let b = buf[pos++]!;
  if (b < 0x80) {
    c.pos = pos;
    return (b >>> 1) ^ -(b & 1);
  }
  // Low 28 bits as an integer, the rest (at most 36 meaningful bits) as an exact float.
  let low = b & 0x7f;
  let shift = 7;
  let high = 0;
  let scale = 1;
  let count = 1;
  for (;;) {
    if (pos >= c.end) {
      c.pos = pos;
      fail(c, path, "truncated-payload", "is cut off: the payload ends inside its varint");
    }
    b = buf[pos++]!;
    count++;
    if (shift < 28) {
      low |= (b & 0x7f) << shift;
      shift += 7;
    } else {
      high += (b & 0x7f) * scale;
      scale *= 128;
    }
    if (b < 0x80) break;
    if (count === maxBytes) {
      c.pos = pos;
      fail(c, path, "varint-too-long", `holds a number longer than ${maxBytes} bytes, the most an Avro ${maxBytes === 5 ? "int" : "long"} takes`);
    }
  }
  c.pos = pos;
  if (count === maxBytes && b > (maxBytes === 5 ? 0x0f : 0x01)) {
    fail(c, path, maxBytes === 5 ? "int-out-of-range" : "long-out-of-range", `holds a number wider than ${maxBytes === 5 ? 32 : 64} bits`);
  }
  // value = low bit ? -(half + 1) : half, with half = u >>> 1 (exact below 2^53, at least 2^53 above).
  const half = (low >>> 1) + high * 2 ** 27;
  return low & 1 ? -half - 1 : half;
}

function length(c: Cursor, path: number, what: string): number {
  const n = varint(c, path, 10);
  if (n < 0) fail(c, path, "negative-length", `declares a negative ${what} (${n})`);
  if (n > c.end - c.pos)
    fail(c, path, "truncated-payload", `declares ${n} bytes of ${what} but only ${c.end - c.pos} remain: the payload ends early or the length is corrupt`);
  return n;
}

/** True when buf[start, end) is UTF-8: a loop over the ASCII prefix of short strings, the native check for the rest. */
function validUtf8(buf: Buffer, start: number, end: number): boolean {
  if (end - start > 64) return isUtf8(buf.subarray(start, end));
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(i, end));
  return true;
}

export function string(c: Cursor, path: number): void {
  const n = length(c, path, "string");
  const start = c.pos;
  if (!validUtf8(c.buf, start, start + n)) fail(c, path, "invalid-utf8", `holds ${n} bytes that are not valid UTF-8`);
  c.pos = start + n;
}

export function bytes(c: Cursor, path: number): void {
  const n = length(c, path, "bytes"); // read first: `c.pos += length(c)` would add to the position before the length
  c.pos += n;
}

export function fixed(c: Cursor, path: number, size: number): void {
  if (size > c.end - c.pos) fail(c, path, "truncated-payload", `needs ${size} bytes but only ${c.end - c.pos} remain`);
  c.pos += size;
}

export function int(c: Cursor, path: number): void {
  varint(c, path, 5);
}

export function long(c: Cursor, path: number): void {
  const v = varint(c, path, 10);
  if (v > maxLong || v < minLong) fail(c, path, "long-out-of-range", `holds ${v}, outside the longs Ferry decodes exactly (${minLong} to ${maxLong})`);
}

export function boolean(c: Cursor, path: number): void {
  if (c.pos >= c.end) fail(c, path, "truncated-payload", "is cut off: the payload ends before it");
  if (c.buf[c.pos]! > 1) fail(c, path, "invalid-boolean", `holds byte ${c.buf[c.pos]}, but a boolean is 0 or 1`);
  c.pos++;
}

export function enumIndex(c: Cursor, path: number, symbols: number, name: string): void {
  const i = varint(c, path, 10);
  if (i < 0 || i >= symbols) fail(c, path, "invalid-enum-index", `holds symbol index ${i}; enum ${name} has ${symbols} symbols`);
}

export function unionIndex(c: Cursor, path: number, branches: number): number {
  const i = varint(c, path, 10);
  if (i < 0 || i >= branches) fail(c, path, "invalid-union-index", `holds union branch ${i}; the union has ${branches} branches`);
  return i;
}

/**
 * An array or map block's item count, refused BEFORE anything is allocated when the items cannot
 * fit in what is left (count × the item's smallest encoding), or, for items of 0 bytes, when the
 * record's budget for them runs out. 0 ends the array or map.
 */
export function count(c: Cursor, path: number, itemMin: number, map: boolean): number {
  let n = varint(c, path, 10);
  c.blockEnd = -1;
  if (n === 0) return 0;
  if (n < 0) {
    n = -n;
    c.blockSize = length(c, path, "block size");
    c.blockEnd = c.pos + c.blockSize;
  }
  const left = (c.blockEnd < 0 ? c.end : c.blockEnd) - c.pos;
  const kind = map ? "map entries" : "array items";
  if (itemMin > 0) {
    if (n > left / itemMin) fail(c, path, "count-exceeds-payload", `declares ${n} ${kind} of at least ${itemMin} bytes each, but only ${left} bytes remain`);
  } else {
    c.zeroItems += n;
    if (c.zeroItems > c.zeroBudget)
      fail(c, path, "too-many-items", `declares ${n} ${kind} that take no bytes; a record may hold at most ${c.zeroBudget} such items`);
  }
  return n;
}

/** After a block that declared its byte size: its items must have taken exactly that. */
export function blockEnded(c: Cursor, path: number, blockEnd: number, blockSize: number, n: number, map: boolean): void {
  if (c.pos !== blockEnd) {
    fail(
      c,
      path,
      "block-size-mismatch",
      `declares a block of ${blockSize} bytes, but its ${n} ${map ? "map entries" : "array items"} take ${c.pos - (blockEnd - blockSize)}`,
    );
  }
}

export function enter(c: Cursor, path: number, name: string): void {
  if (++c.depth > maxRecursionDepth) fail(c, path, "too-deeply-nested", `nests record ${name} more than ${maxRecursionDepth} levels deep`);
}
