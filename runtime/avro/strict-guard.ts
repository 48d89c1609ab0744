/**
 * Strict, bounded validation of an Avro payload against its writer schema, run before avsc
 * decodes it: the bytes are walked once, nothing is allocated, and whatever avsc would accept
 * silently or pay for dearly becomes a DecodeError with its own reason.
 *
 * What avsc 5.7.9 does on its own (lib/utils.js `Tap`, lib/types.js):
 * - `Tap` never fails while reading: past the end a byte reads as `undefined` (0), and
 *   `fromBuffer` only checks at the very end that the position did not pass the length
 *   ("truncated buffer"). Every read in between still runs.
 * - `Tap.readLong` has no limit on a varint's length (after 28 bits it switches to float
 *   arithmetic and loops while the continuation bit is set). `LongType._read` throws "potential
 *   precision loss" outside ±9,007,199,254,740,990, but takes the sign from the float sum
 *   (`f % 2`), which has rounded once the zig-zag value passes 2^53: every long in
 *   [−9,007,199,254,740,991, −4,503,599,627,370,497] decodes as a POSITIVE number of about the
 *   same size. `int` uses the same reader with no range check at all.
 * - `Tap.readString` decodes with `utf8Slice`: invalid UTF-8 becomes U+FFFD, so two different
 *   byte strings can decode to the same string. Map keys are read the same way.
 * - `ArrayType._read` allocates `new Array(n)` for the first block's count and then reads n items
 *   whatever bytes remain (reads past the end are cheap no-ops that still fill slots): a 48-byte
 *   record claiming 2,000,000 items costs ~100 MB, one claiming ~2^31 loops for minutes.
 *   `MapType._read` loops the same way. A negative count's block size is skipped unchecked.
 * - A negative string or bytes length invalidates the tap (reported as truncated at the end).
 * - `BooleanType._read` takes any non-zero byte as true. Enum and union indexes are checked.
 * - Under a resolver, writer fields the reader lacks are skipped (`_skip`) without a look inside.
 *
 * What the guard adds, per writer schema (compiled once into closures, no per-record schema walk):
 * varints of at most 10 bytes (5 for an int) → `varint-too-long`; an int beyond 32 bits → `int-out-of-range`;
 * a long outside [−2^52, 9,007,199,254,740,990] (what avsc decodes exactly) → `long-out-of-range`;
 * strings and map keys (and bytes the reader reads as a string) must be UTF-8 → `invalid-utf8`;
 * a negative length or block size → `negative-length`; a length beyond the bytes left → `truncated-payload`;
 * a block count whose items cannot fit in the bytes left (count × the item type's smallest encoding)
 * → `count-exceeds-payload`, checked BEFORE avsc allocates; items that encode in 0 bytes (null, an
 * empty record) share a budget per record of max(1,024, payload bytes) → `too-many-items`; a
 * block whose declared byte size differs from its items → `block-size-mismatch`; a boolean byte
 * other than 0/1 → `invalid-boolean`; bad enum/union indexes → `invalid-enum-index`/`invalid-union-index`;
 * recursion deeper than 256 records → `too-deeply-nested`; bytes after the value → `trailing-bytes`.
 */
import { isUtf8 } from "node:buffer";
import { DecodeError } from "../errors.ts";
import type { AvroType } from "./parse-schema.ts";
import { resolutionIssues } from "./resolution.ts";

/** Items that encode in 0 bytes may number at most this many per record, or the payload's byte count if larger. */
export const zeroByteItemFloor = 1_024;
/** Nesting of recursive records allowed before a record is refused (the decoder recurses on the stack). */
export const maxRecursionDepth = 256;
/** The largest long avsc decodes exactly (its `isSafeLong` bound). */
export const maxLong = 9_007_199_254_740_990;
/** The smallest long avsc decodes exactly: below it, avsc's float arithmetic loses the sign. */
export const minLong = -(2 ** 52);

/** Throws a DecodeError when `payload` is not a strictly valid, bounded encoding of the writer schema. */
export type Guard = (payload: Buffer) => void;

interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
  zeroItems: number;
  zeroBudget: number;
  depth: number;
}
type Step = (c: Cursor) => void;

type Any = AvroType & {
  fields?: Array<{ name: string; aliases: string[]; type: AvroType }>;
  types?: AvroType[];
  symbols?: string[];
  size?: number;
  itemsType?: AvroType;
  valuesType?: AvroType;
};

const fail = (reason: string, path: string, c: Cursor, what: string): never => {
  throw new DecodeError(reason, `field ${path} ${what} (at byte ${c.pos} of the ${c.end}-byte payload)`);
};

/**
 * Reads a zig-zag varint of at most `maxBytes` bytes. Returns the value exactly when |value| < 2^53;
 * beyond that, a number at least that large with the right sign (enough for every bound here).
 */
function readVarint(c: Cursor, path: string, maxBytes: number): number {
  const buf = c.buf;
  let pos = c.pos;
  if (pos >= c.end) fail("truncated-payload", path, c, "is cut off: the payload ends before it");
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
      fail("truncated-payload", path, c, "is cut off: the payload ends inside its varint");
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
      fail("varint-too-long", path, c, `holds a number longer than ${maxBytes} bytes, the most an Avro ${maxBytes === 5 ? "int" : "long"} takes`);
    }
  }
  if (count === maxBytes && b > (maxBytes === 5 ? 0x0f : 0x01)) {
    c.pos = pos;
    fail(maxBytes === 5 ? "int-out-of-range" : "long-out-of-range", path, c, `holds a number wider than ${maxBytes === 5 ? 32 : 64} bits`);
  }
  c.pos = pos;
  // value = low bit ? -(half + 1) : half, with half = u >>> 1 (exact below 2^53, at least 2^53 above).
  const half = (low >>> 1) + high * 2 ** 27;
  return low & 1 ? -half - 1 : half;
}

function readLength(c: Cursor, path: string, what: string): number {
  const n = readVarint(c, path, 10);
  if (n < 0) fail("negative-length", path, c, `declares a negative ${what} (${n})`);
  if (n > c.end - c.pos)
    fail("truncated-payload", path, c, `declares ${n} bytes of ${what} but only ${c.end - c.pos} remain: the payload ends early or the length is corrupt`);
  return n;
}

/** True when buf[start, end) is UTF-8; a fast loop for the ASCII prefix, the native check for the rest. */
function validUtf8(buf: Buffer, start: number, end: number): boolean {
  if (end - start > 64) return isUtf8(buf.subarray(start, end));
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(i, end));
  return true;
}

const stringStep =
  (path: string): Step =>
  (c) => {
    const n = readLength(c, path, "string");
    const start = c.pos;
    if (!validUtf8(c.buf, start, start + n)) fail("invalid-utf8", path, c, `holds ${n} bytes that are not valid UTF-8`);
    c.pos = start + n;
  };

const fixedStep =
  (path: string, size: number): Step =>
  (c) => {
    if (size > c.end - c.pos) fail("truncated-payload", path, c, `needs ${size} bytes but only ${c.end - c.pos} remain`);
    c.pos += size;
  };

/** The fewest bytes a value of `type` encodes in: a lower bound, so a recursive reference counts 0. */
function minSize(type: Any, seen: Set<AvroType> = new Set()): number {
  switch (type.typeName) {
    case "null":
      return 0;
    case "float":
      return 4;
    case "double":
      return 8;
    case "fixed":
      return type.size!;
    case "record":
    case "error": {
      if (seen.has(type)) return 0;
      seen.add(type);
      const total = type.fields!.reduce((sum, f) => sum + minSize(f.type as Any, seen), 0);
      seen.delete(type);
      return total;
    }
    default:
      // boolean, int, long, enum, string, bytes, array, map, union (an index): at least one byte.
      return type.typeName.startsWith("union") ? 1 + Math.min(...type.types!.map((t) => minSize(t as Any, seen))) : 1;
  }
}

/**
 * The guard of one writer schema; `reader` (when the handler has one) only decides which writer
 * `bytes` avsc will turn into strings (string↔bytes promotion), so those are checked as UTF-8 too.
 */
export function compileGuard(writer: AvroType, reader?: AvroType): Guard {
  const records = new Map<string, { step: Step }>();
  const top = compile(
    writer as Any,
    reader as Any | undefined,
    writer.name ? writer.name.slice(writer.name.lastIndexOf(".") + 1) : writer.typeName,
    records,
    true,
  );
  const cursor: Cursor = { buf: Buffer.alloc(0), pos: 0, end: 0, zeroItems: 0, zeroBudget: 0, depth: 0 };
  return (payload) => {
    // One cursor per guard: decoding is synchronous, so no two payloads share it at once.
    const c = cursor;
    c.buf = payload;
    c.pos = 0;
    c.end = payload.length;
    c.zeroItems = 0;
    c.zeroBudget = Math.max(zeroByteItemFloor, payload.length);
    c.depth = 0;
    try {
      top(c);
    } finally {
      c.buf = empty;
    }
    if (c.pos !== c.end) {
      throw new DecodeError("trailing-bytes", `the value ends at byte ${c.pos} of the ${c.end}-byte payload; the bytes after it belong to no field`);
    }
  };
}
const empty = Buffer.alloc(0);

function compile(type: Any, reader: Any | undefined, path: string, records: Map<string, { step: Step }>, topLevel = false): Step {
  const name = type.typeName;
  if (name.startsWith("union")) return unionStep(type, reader, path, records);
  // A reader union picks its first branch that can read this writer type, as avsc's resolver does.
  if (reader?.typeName.startsWith("union")) reader = reader.types!.find((b) => resolutionIssues(b, type).length === 0) as Any | undefined;
  switch (name) {
    case "null":
      return noop;
    case "boolean":
      return (c) => {
        if (c.pos >= c.end) fail("truncated-payload", path, c, "is cut off: the payload ends before it");
        if (c.buf[c.pos]! > 1) fail("invalid-boolean", path, c, `holds byte ${c.buf[c.pos]}, but a boolean is 0 or 1`);
        c.pos++;
      };
    case "int":
      return (c) => {
        readVarint(c, path, 5);
      };
    case "long":
      return (c) => {
        const v = readVarint(c, path, 10);
        if (v > maxLong || v < minLong) fail("long-out-of-range", path, c, `holds ${v}, outside the longs Ferry decodes exactly (${minLong} to ${maxLong})`);
      };
    case "float":
      return fixedStep(path, 4);
    case "double":
      return fixedStep(path, 8);
    case "fixed":
      return fixedStep(path, type.size!);
    case "string":
      return stringStep(path);
    case "bytes":
      if (reader?.typeName === "string") return stringStep(path);
      return (c) => {
        const n = readLength(c, path, "bytes"); // read first: `c.pos += readLength(c)` would add to the position before the length
        c.pos += n;
      };
    case "enum": {
      const symbols = type.symbols!.length;
      return (c) => {
        const i = readVarint(c, path, 10);
        if (i < 0 || i >= symbols) fail("invalid-enum-index", path, c, `holds symbol index ${i}; enum ${type.name} has ${symbols} symbols`);
      };
    }
    case "array":
      return blockStep(type.itemsType as Any, undefined, reader?.typeName === "array" ? (reader.itemsType as Any) : undefined, `${path}[]`, records);
    case "map":
      return blockStep(
        type.valuesType as Any,
        stringStep(`${path}{key}`),
        reader?.typeName === "map" ? (reader.valuesType as Any) : undefined,
        `${path}{}`,
        records,
      );
    case "record":
    case "error":
      return recordStep(type, reader?.typeName === "record" || reader?.typeName === "error" ? reader : undefined, path, records, topLevel);
    default:
      throw new Error(`the strict Avro guard does not know type ${name}`);
  }
}

const noop: Step = () => undefined;

function unionStep(type: Any, reader: Any | undefined, path: string, records: Map<string, { step: Step }>): Step {
  const branches = type.types!.map((b) => compile(b as Any, reader, path, records));
  const n = branches.length;
  return (c) => {
    const i = readVarint(c, path, 10);
    if (i < 0 || i >= n) fail("invalid-union-index", path, c, `holds union branch ${i}; the union has ${n} branches`);
    branches[i]!(c);
  };
}

/** Arrays and maps: blocks of items until a 0 count; a negative count is followed by the block's byte size. */
function blockStep(items: Any, key: Step | undefined, reader: Any | undefined, path: string, records: Map<string, { step: Step }>): Step {
  const item = compile(items, reader, path, records);
  const itemMin = minSize(items) + (key ? 1 : 0);
  const kind = key ? "map entries" : "array items";
  return (c) => {
    for (;;) {
      let n = readVarint(c, path, 10);
      if (n === 0) return;
      let blockEnd = -1;
      let blockSize = 0;
      if (n < 0) {
        n = -n;
        blockSize = readLength(c, path, "block size");
        blockEnd = c.pos + blockSize;
      }
      const left = (blockEnd < 0 ? c.end : blockEnd) - c.pos;
      if (itemMin > 0) {
        if (n > left / itemMin) {
          fail("count-exceeds-payload", path, c, `declares ${n} ${kind} of at least ${itemMin} bytes each, but only ${left} bytes remain`);
        }
      } else {
        c.zeroItems += n;
        if (c.zeroItems > c.zeroBudget) {
          fail("too-many-items", path, c, `declares ${n} ${kind} that take no bytes; a record may hold at most ${c.zeroBudget} such items`);
        }
      }
      if (key) {
        for (let i = 0; i < n; i++) {
          key(c);
          item(c);
        }
      } else {
        for (let i = 0; i < n; i++) item(c);
      }
      if (blockEnd >= 0 && c.pos !== blockEnd) {
        fail("block-size-mismatch", path, c, `declares a block of ${blockSize} bytes, but its ${n} ${kind} take ${c.pos - (blockEnd - blockSize)}`);
      }
    }
  };
}

function recordStep(type: Any, reader: Any | undefined, path: string, records: Map<string, { step: Step }>, topLevel: boolean): Step {
  const memo = `${type.name}|${reader?.name ?? ""}`;
  const known = records.get(memo);
  if (known) {
    // A recursive reference: the step is filled in once the record is compiled; its depth is bounded.
    return (c) => {
      if (++c.depth > maxRecursionDepth) fail("too-deeply-nested", path, c, `nests record ${type.name} more than ${maxRecursionDepth} levels deep`);
      known.step(c);
      c.depth--;
    };
  }
  const slot: { step: Step } = { step: noop };
  records.set(memo, slot);
  const readerFields = reader?.fields ?? [];
  const steps = type
    .fields!.filter((f) => f.type.typeName !== "null")
    .map((f) => {
      const match = readerFields.find((r) => r.name === f.name || r.aliases.includes(f.name));
      return compile(f.type as Any, match?.type as Any | undefined, topLevel ? f.name : `${path}.${f.name}`, records);
    });
  slot.step = sequence(steps);
  // Only in-progress records are shared (for recursion): another use compiles again, with its own path.
  records.delete(memo);
  return slot.step;
}

/** One step running `steps` in order; short records get straight-line closures (no loop, no array). */
function sequence(steps: Step[]): Step {
  switch (steps.length) {
    case 0:
      return noop;
    case 1:
      return steps[0]!;
    case 2: {
      const [a, b] = steps as [Step, Step];
      return (c) => {
        a(c);
        b(c);
      };
    }
    case 3: {
      const [a, b, d] = steps as [Step, Step, Step];
      return (c) => {
        a(c);
        b(c);
        d(c);
      };
    }
    default: {
      const [a, b, d, e] = steps as [Step, Step, Step, Step];
      const rest = sequence(steps.slice(4));
      return (c) => {
        a(c);
        b(c);
        d(c);
        e(c);
        rest(c);
      };
    }
  }
}
