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
 *   record claiming 2,000,000 items cost +120 MB and 0.5 s, 40,000,000 items +2.3 GB and 10 s;
 *   one claiming ~2^31 would need ~100 GB.
 *   `MapType._read` loops the same way. A negative count's block size is skipped unchecked.
 * - A negative string or bytes length invalidates the tap (reported as truncated at the end).
 * - `BooleanType._read` takes any non-zero byte as true. Enum and union indexes are checked.
 * - Under a resolver, writer fields the reader lacks are skipped (`_skip`) without a look inside.
 *
 * What the guard adds, per writer schema (compiled once into one function, no per-record schema walk):
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
 * The 0-byte budget: 1,024 covers any real array of nulls or empty records in a small event, and
 * one item per payload byte beyond that keeps what avsc builds (an array slot, an empty object)
 * within a small multiple of the record's own size.
 *
 * What it costs: a fraction of avsc's decode (bun bench/avro-decode.ts: 0.2-0.35× on the
 * benchmark's 1 KiB order and on OrderPlaced); about half of it is the UTF-8 check.
 *
 * Why generated code: a first version of closures shared by every schema made their call sites
 * megamorphic once a process had a few schemas (with three schemas in turn, each guard took
 * 1.3-1.4× as long as this one; alone they were even). One function per schema, like avsc's own
 * readers, keeps the calls into strict-reads.ts monomorphic. Only integers the compiler computed
 * go into the source; names and paths are passed in arrays.
 */
import type { AvroType } from "./parse-schema.ts";
import { resolutionIssues } from "./resolution.ts";
import * as reads from "./strict-reads.ts";
import { DecodeError } from "../errors.ts";

/** Throws a DecodeError when `payload` is not a strictly valid, bounded encoding of the writer schema. */
export type Guard = (payload: Buffer) => void;

type Any = AvroType & {
  fields?: Array<{ name: string; aliases: string[]; type: AvroType }>;
  types?: AvroType[];
  symbols?: string[];
  size?: number;
  itemsType?: AvroType;
  valuesType?: AvroType;
};

const isRecord = (t: Any | undefined) => t?.typeName === "record" || t?.typeName === "error";
const isUnion = (t: Any | undefined) => t?.typeName.startsWith("union") ?? false;
const children = (t: Any): AvroType[] =>
  isRecord(t) ? t.fields!.map((f) => f.type) : isUnion(t) ? t.types! : t.typeName === "array" ? [t.itemsType!] : t.typeName === "map" ? [t.valuesType!] : [];

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
      return isUnion(type) ? 1 + Math.min(...type.types!.map((t) => minSize(t as Any, seen))) : 1;
  }
}

/** Records that contain themselves: they become functions of their own, with a depth check. */
function recursiveRecords(type: Any, stack: AvroType[] = [], out = new Set<AvroType>()): Set<AvroType> {
  if (stack.includes(type)) {
    out.add(type);
    return out;
  }
  stack.push(type);
  for (const child of children(type)) recursiveRecords(child as Any, stack, out);
  stack.pop();
  return out;
}

/**
 * The guard of one writer schema; `reader` (when the handler has one) only decides which writer
 * `bytes` avsc will turn into strings (string↔bytes promotion), so those are checked as UTF-8 too.
 */
export function compileGuard(writer: AvroType, reader?: AvroType): Guard {
  const paths: string[] = [];
  const names: string[] = [];
  const recursive = recursiveRecords(writer as Any);
  const functions = new Map<string, { name: string; body: string }>();
  let vars = 0;
  const at = (path: string) => paths.push(path) - 1;
  const named = (name: string) => names.push(name) - 1;

  const emit = (type: Any, readerType: Any | undefined, path: string, top = false): string => {
    if (isUnion(type)) {
      const k = at(path);
      const cases = type.types!.map((b, i) => `case ${i}: ${emit(b as Any, readerType, path)} break;`);
      return `switch (U(c, ${k}, ${type.types!.length})) { ${cases.join(" ")} }`;
    }
    // A reader union picks its first branch that can read this writer type, as avsc's resolver does.
    let r = readerType;
    if (isUnion(r)) r = r!.types!.find((b) => resolutionIssues(b, type).length === 0) as Any | undefined;
    switch (type.typeName) {
      case "null":
        return "";
      case "boolean":
        return `Z(c, ${at(path)});`;
      case "int":
        return `I(c, ${at(path)});`;
      case "long":
        return `L(c, ${at(path)});`;
      case "float":
        return `F(c, ${at(path)}, 4);`;
      case "double":
        return `F(c, ${at(path)}, 8);`;
      case "fixed":
        return `F(c, ${at(path)}, ${Number(type.size)});`;
      case "string":
        return `S(c, ${at(path)});`;
      case "bytes":
        return r?.typeName === "string" ? `S(c, ${at(path)});` : `B(c, ${at(path)});`;
      case "enum":
        return `E(c, ${at(path)}, ${type.symbols!.length}, N[${named(type.name!)}]);`;
      case "array":
        return blocks(type.itemsType as Any, r?.typeName === "array" ? (r.itemsType as Any) : undefined, `${path}[]`, undefined);
      case "map":
        return blocks(type.valuesType as Any, r?.typeName === "map" ? (r.valuesType as Any) : undefined, `${path}{}`, `${path}{key}`);
      case "record":
      case "error":
        return record(type, isRecord(r) ? r : undefined, path, top);
      default:
        throw new Error(`the strict Avro guard does not know type ${type.typeName}`);
    }
  };

  const blocks = (items: Any, readerItems: Any | undefined, path: string, keyPath: string | undefined): string => {
    const k = at(path);
    const v = vars++;
    const map = keyPath !== undefined;
    const key = map ? `S(c, ${at(keyPath)}); ` : "";
    const item = emit(items, readerItems, path);
    const itemMin = minSize(items) + (map ? 1 : 0);
    return `for (;;) { const n${v} = C(c, ${k}, ${itemMin}, ${map}); if (n${v} === 0) break; const e${v} = c.blockEnd, s${v} = c.blockSize;
      for (let i${v} = 0; i${v} < n${v}; i${v}++) { ${key}${item} }
      if (e${v} >= 0) D(c, ${k}, e${v}, s${v}, n${v}, ${map}); }`;
  };

  const record = (type: Any, readerType: Any | undefined, path: string, top: boolean): string => {
    const readerFields = readerType?.fields ?? [];
    const fields = (prefix: string) =>
      type
        .fields!.map((f) => {
          const match = readerFields.find((rf) => rf.name === f.name || rf.aliases.includes(f.name));
          return emit(f.type as Any, match?.type as Any | undefined, `${prefix}${f.name}`);
        })
        .join("\n");
    if (!recursive.has(type)) return fields(top ? "" : `${path}.`);
    // One function per recursive record, shared by every level: its fields are named from the record
    // (`Tree.label`), as no single path fits them all; the depth error names the referring field.
    const memo = `${type.name}|${readerType?.name ?? ""}`;
    let fn = functions.get(memo);
    if (!fn) {
      fn = { name: `r${functions.size}`, body: "" };
      functions.set(memo, fn);
      fn.body = `function ${fn.name}(c, k) { G(c, k, N[${named(type.name!)}]);\n${fields(`${type.name!.slice(type.name!.lastIndexOf(".") + 1)}.`)}\nc.depth--; }`;
    }
    return `${fn.name}(c, ${at(path)});`;
  };

  const top = emit(writer as Any, reader as Any | undefined, writer.name ? writer.name.slice(writer.name.lastIndexOf(".") + 1) : writer.typeName, true);
  const source = `${[...functions.values()].map((f) => f.body).join("\n")}\nreturn function guard(c) {\n${top}\n};`;
  const make = new Function("S", "B", "F", "I", "L", "Z", "E", "U", "C", "D", "G", "N", source);
  const check: (c: reads.Cursor) => void = make(
    reads.string,
    reads.bytes,
    reads.fixed,
    reads.int,
    reads.long,
    reads.boolean,
    reads.enumIndex,
    reads.unionIndex,
    reads.count,
    reads.blockEnded,
    reads.enter,
    names,
  );

  const cursor: reads.Cursor = { buf: empty, pos: 0, end: 0, paths, zeroItems: 0, zeroBudget: 0, depth: -1, blockEnd: -1, blockSize: 0 };
  return (payload) => {
    // One cursor per guard: decoding is synchronous, so no two payloads share it at once.
    const c = cursor;
    c.buf = payload;
    c.pos = 0;
    c.end = payload.length;
    c.zeroItems = 0;
    c.zeroBudget = Math.max(reads.zeroByteItemFloor, payload.length);
    c.depth = -1;
    try {
      check(c);
    } finally {
      c.buf = empty;
    }
    if (c.pos !== c.end) {
      throw new DecodeError("trailing-bytes", `the value ends at byte ${c.pos} of the ${c.end}-byte payload; the bytes after it belong to no field`);
    }
  };
}
const empty = Buffer.alloc(0);
