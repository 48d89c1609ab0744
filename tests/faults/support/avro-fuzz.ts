/**
 * The Avro fuzz workload: valid `FuzzOrder` events, and records made from valid ones by one
 * seeded mutation each (bit flips, truncation, counts, lengths, varint encodings, numbers at the
 * edges, damaged UTF-8, event-id header damage, wire-format damage, business keys around
 * PostgreSQL's limits). What each record must become is decided by avro-oracle.ts and the rules
 * the README states, never by Ferry's code.
 */
import avro from "avsc";
import { seededRandom } from "../../support/events.ts";
import { judge, longRange, type SchemaJson, type Span } from "./avro-oracle.ts";

const line = { type: "record", name: "Line", fields: f(["sku", "string"], ["qty", "int"], ["priceCents", "long"]) };
const address = { type: "record", name: "Address", fields: f(["city", "string"], ["zip", "string"]) };
function f(...fields: Array<[string, unknown]>) {
  return fields.map(([name, type]) => ({ name, type }));
}

/** What producers write: every kind of Avro value a mutation can hit. */
export const fuzzWriterSchema = {
  type: "record",
  name: "FuzzOrder",
  namespace: "ferry.fuzz",
  fields: f(
    ["orderId", "string"],
    ["n", "int"],
    ["totalCents", "long"],
    ["paid", "boolean"],
    ["weight", "double"],
    ["channel", { type: "enum", name: "Channel", symbols: ["WEB", "APP", "STORE"] }],
    ["lines", { type: "array", items: line }],
    ["tags", { type: "map", values: "string" }],
    ["note", ["null", "string"]],
    ["shipping", ["null", address]],
    ["digest", { type: "fixed", name: "Digest", size: 4 }],
    ["blob", "bytes"],
    ["flags", { type: "array", items: "null" }],
  ),
};

/** What the handler reads: without `blob` (skipped by the resolver) and with a defaulted `currency`, so resolution runs too. */
export const fuzzReaderSchema = {
  ...fuzzWriterSchema,
  fields: [...fuzzWriterSchema.fields.filter((x) => x.name !== "blob"), { name: "currency", type: "string", default: "EUR" }],
};

const writer = avro.Type.forSchema(fuzzWriterSchema as never, { wrapUnions: "auto" } as never);

/** One record to send, what it was made by, and what the rules say must happen to it (`storable` is settled by probing PostgreSQL). */
export interface FuzzRecord {
  kind: string;
  key: string;
  value: Buffer | null;
  headers: Record<string, string | Buffer | Array<string | Buffer>>;
  eventId: string | null;
  expect: { kind: "apply"; businessKey: string } | { kind: "dead-letter"; reason: string; messagePrefix?: string };
}

export interface FuzzOptions {
  prefix: string;
  schemaId: number;
  valid: number;
  mutated: number;
  seed: number;
}

/** An id no registry has handed out (ids are small sequential numbers). */
export const unknownSchemaId = 2_000_000_017;

const eventIdPattern = /^[\x21-\x7e]{1,200}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const invalidSequences = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0xaf],
  [0xe6, 0x41],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xff, 0xfe, 0x41],
  [0xfe, 0xff, 0x41],
];

function zigzag(value: bigint, padTo = 0): number[] {
  let u = value >= 0n ? value << 1n : (-value << 1n) - 1n;
  const out: number[] = [];
  do {
    out.push(Number(u & 0x7fn));
    u >>= 7n;
  } while (u);
  while (out.length < padTo) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i]! |= 0x80;
  return out;
}

export function fuzzWorkload(o: FuzzOptions): FuzzRecord[] {
  const random = seededRandom(o.seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const text = (max: number) =>
    Array.from({ length: int(max + 1) }, () =>
      random() < 0.8 ? String.fromCharCode(0x20 + int(95)) : pick(["é", "ß", "漢", "字", "😀", "🚚", "\u00a0"]),
    ).join("");
  const noise = (n: number) => Array.from({ length: n }, () => String.fromCharCode(0x21 + int(94))).join(""); // incompressible printable ASCII

  const template = (j: number, orderId: string) => ({
    orderId,
    n: j,
    totalCents: pick([0, 1, -1, int(100_000), -int(100_000), Number(longRange.max), Number(longRange.min), int(2 ** 40)]),
    paid: random() < 0.5,
    weight: random() * 100,
    channel: pick(["WEB", "APP", "STORE"]),
    lines: Array.from({ length: int(4) }, (_, l) => ({ sku: `SKU-${l}-${text(6)}`, qty: int(5) - 1, priceCents: int(1_000_000) })),
    tags: Object.fromEntries(Array.from({ length: int(3) }, (_, t) => [`${t}${text(5)}`, text(8)])),
    note: random() < 0.5 ? null : text(20),
    shipping: random() < 0.5 ? null : { city: text(12), zip: text(6) },
    digest: Buffer.from([int(256), int(256), int(256), int(256)]),
    blob: Buffer.from(Array.from({ length: int(8) }, () => int(256))),
    flags: Array.from({ length: int(3) }, () => null),
  });
  const frame = (payload: Buffer, schemaId = o.schemaId) => {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(schemaId, 1);
    return Buffer.concat([header, payload]);
  };

  /** The verdict for a value with a well-formed event id: the oracle's, then the business-key rule. */
  const verdictOf = (value: Buffer | null): FuzzRecord["expect"] => {
    if (value === null || value.length === 0) return { kind: "dead-letter", reason: "decode-failed", messagePrefix: "empty-value:" };
    if (value[0] !== 0) return { kind: "dead-letter", reason: "decode-failed", messagePrefix: "bad-magic-byte:" };
    if (value.length < 5) return { kind: "dead-letter", reason: "decode-failed", messagePrefix: "truncated-header:" };
    if (value.readUInt32BE(1) !== o.schemaId) return { kind: "dead-letter", reason: "decode-failed", messagePrefix: "unknown-schema-id:" };
    const verdict = judge(fuzzWriterSchema as SchemaJson, value.subarray(5));
    if (!verdict.ok) return { kind: "dead-letter", reason: "decode-failed", messagePrefix: `${verdict.reason}:` };
    const orderId = (verdict.value as { orderId: string }).orderId;
    if (orderId === "") return { kind: "dead-letter", reason: "business-key-failed" };
    // U+0000 and keys beyond the btree row limit: settled by probing PostgreSQL (see the test).
    return { kind: "apply", businessKey: orderId };
  };

  type Draft = { kind: string; value: Buffer | null; headers: FuzzRecord["headers"]; eventId: string | null };
  const mutations: Array<[string, number, (d: Draft, payload: Buffer, spans: Span[], j: number) => void]> = [
    [
      "bit-flip",
      10,
      (d, p) => {
        const bytes = Buffer.from(p);
        for (let k = 1 + int(3); k > 0; k--) bytes[int(bytes.length)]! ^= 1 << int(8);
        d.value = frame(bytes);
      },
    ],
    [
      "byte-set",
      5,
      (d, p) => {
        const bytes = Buffer.from(p);
        bytes[int(bytes.length)] = int(256);
        d.value = frame(bytes);
      },
    ],
    ["truncate", 6, (d, p) => (d.value = frame(p.subarray(0, int(p.length))))],
    ["append", 3, (d, p) => (d.value = frame(Buffer.concat([p, Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256)))])))],
    [
      "count",
      8,
      (d, p, spans) =>
        splice(d, p, pickSpan(spans, "count"), () =>
          zigzag(pick([2_000_000n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 62n, 2n ** 63n - 1n, -1n, -(2n ** 31n), 1_024n, 1_025n, 3n, 1n, 0n, -2n]), 0),
        ),
    ],
    [
      "length",
      8,
      (d, p, spans) => splice(d, p, pickSpan(spans, "length"), () => zigzag(pick([-1n, -1_000n, 0n, 1n, 2n ** 31n, 2n ** 62n, BigInt(int(p.length + 4))]), 0)),
    ],
    [
      "pad-varint",
      4,
      (d, p, spans) => {
        const span = pickSpan(spans, pick(["count", "length", "long", "int", "index"] as const));
        const bytes = span ? p.subarray(span.start, span.end) : undefined;
        splice(d, p, span, () => {
          let u = 0n;
          for (const [i, b] of bytes!.entries()) u |= BigInt(b & 0x7f) << BigInt(7 * i);
          const value = u & 1n ? -(u >> 1n) - 1n : u >> 1n;
          return zigzag(value, span!.kind === "int" ? pick([5, 6]) : pick([10, 11]));
        });
      },
    ],
    [
      "long",
      5,
      (d, p, spans) =>
        splice(d, p, pickSpan(spans, "long"), () =>
          zigzag(pick([longRange.max, longRange.max + 1n, longRange.min, longRange.min - 1n, -longRange.max, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n]), 0),
        ),
    ],
    [
      "int",
      3,
      (d, p, spans) => splice(d, p, pickSpan(spans, "int"), () => zigzag(pick([2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n), -(2n ** 31n) - 1n, 2n ** 40n]), 0)),
    ],
    ["index", 3, (d, p, spans) => splice(d, p, pickSpan(spans, "index"), () => zigzag(pick([-1n, 2n, 3n, 1n, 0n, 2n ** 40n]), 0))],
    ["boolean", 2, (d, p, spans) => splice(d, p, pickSpan(spans, "boolean"), () => [pick([0, 1, 2, 0x80, 0xff])])],
    [
      "utf8",
      10,
      (d, p, spans) => {
        const span = pickSpan(
          spans.filter((s) => s.end > s.start),
          "text",
        );
        if (!span) return;
        const bytes = Buffer.from(p);
        const bad = pick(invalidSequences).slice(0, span.end - span.start);
        Buffer.from(bad).copy(bytes, span.start + int(span.end - span.start - bad.length + 1));
        d.value = frame(bytes);
      },
    ],
    [
      "utf8-order-id",
      3,
      (d, _p, _s, j) => {
        // The outside tester's pair: ids that differ only in invalid bytes.
        const id = Buffer.concat([
          Buffer.from(`${o.prefix}-u-${j}-`),
          Buffer.from(
            pick([
              [0xff, 0xfe, 0x41],
              [0xfe, 0xff, 0x41],
            ]),
          ),
        ]);
        const rest = writer.toBuffer(template(j, "")).subarray(1);
        d.value = frame(Buffer.concat([Buffer.from(zigzag(BigInt(id.length))), id, rest]));
      },
    ],
    ["magic-byte", 1, (d, p) => (d.value = Buffer.concat([Buffer.from([1 + int(255)]), frame(p).subarray(1)]))],
    ["unknown-schema-id", 1, (d, p) => (d.value = frame(p, unknownSchemaId))],
    ["truncated-header", 1, (d, p) => (d.value = frame(p).subarray(0, int(5)))],
    ["null-value", 1, (d) => (d.value = null)],
    [
      "event-id",
      6,
      (d) => {
        const id = d.eventId!;
        const [label, header] = pick<[string, FuzzRecord["headers"][string] | undefined]>([
          ["missing", undefined],
          ["empty", ""],
          ["201 characters", "e".repeat(201)],
          ["10,000 characters", noise(10_000)],
          ["200 characters (valid)", `${id}-${"v".repeat(199 - id.length)}`],
          ["binary", Buffer.from([0xff, 0x00, 0x41])],
          ["with a space", `${id} x`],
          ["with a control character", `${id}\u0007`],
          ["repeated, different", [id, `${id}-other`]],
          ["repeated, same (valid)", [id, id]],
        ]);
        d.kind = `event-id: ${label}`;
        d.headers = header === undefined ? {} : { "event-id": header };
      },
    ],
    [
      "business-key",
      4,
      (d, _p, _s, j) => {
        const [label, orderId] = pick<[string, string]>([
          ["~2,700 incompressible bytes", `${o.prefix}-k-${j}-${noise(2_590 + int(220))}`],
          ["~8,200 incompressible bytes", `${o.prefix}-k-${j}-${noise(8_150 + int(100))}`],
          ["~10,000 incompressible bytes", `${o.prefix}-k-${j}-${noise(9_950 + int(100))}`],
          ["10,000 compressible bytes", `${o.prefix}-k-${j}-${"a".repeat(10_000)}`],
          ["U+0000", `${o.prefix}-k-${j}-\u0000-nul`],
          ["emoji and CJK", `${o.prefix}-k-${j}-注文-😀`],
          ["empty", ""],
        ]);
        d.kind = `business key: ${label}`;
        d.value = frame(writer.toBuffer(template(j, orderId)));
      },
    ],
  ];
  const totalWeight = mutations.reduce((s, [, w]) => s + w, 0);
  const chooseMutation = () => {
    let r = random() * totalWeight;
    for (const m of mutations) if ((r -= m[1]) < 0) return m;
    return mutations[0]!;
  };
  function pickSpan(spans: Span[], kind: Span["kind"]): Span | undefined {
    const of = spans.filter((s) => s.kind === kind);
    return of.length ? pick(of) : undefined;
  }
  function splice(d: Draft, p: Buffer, span: Span | undefined, bytes: () => number[]) {
    if (span) d.value = frame(Buffer.concat([p.subarray(0, span.start), Buffer.from(bytes()), p.subarray(span.end)]));
  }

  const out: FuzzRecord[] = [];
  let valid = 0;
  let mutated = 0;
  while (valid < o.valid || mutated < o.mutated) {
    const makeValid = mutated >= o.mutated || (valid < o.valid && random() < o.valid / (o.valid + o.mutated));
    const j = valid + mutated;
    const eventId = `${o.prefix}-${makeValid ? "v" : "m"}-${j}`;
    // Valid events and mutation templates never share a key: one changed byte cannot turn "-m-" into "-v-" plus another number's digits.
    const payload = writer.toBuffer(template(j, `${o.prefix}-${makeValid ? "v" : "m"}-order-${j}`));
    const draft: Draft = { kind: "valid", value: frame(payload), headers: { "event-id": eventId }, eventId };
    if (!makeValid) {
      const spans: Span[] = [];
      judge(fuzzWriterSchema as SchemaJson, payload, spans);
      const [name, , mutate] = chooseMutation();
      draft.kind = name;
      mutate(draft, payload, spans, j);
      if (draft.kind === name && draft.value !== null && draft.value.equals(frame(payload)) && name !== "event-id") continue; // nothing to aim at
    }
    const record = toRecord(draft, j);
    out.push(record);
    if (makeValid) valid++;
    else mutated++;
  }
  return out;

  function toRecord(d: Draft, j: number): FuzzRecord {
    const base = { kind: d.kind, key: `k${j % 64}`, value: d.value, headers: d.headers };
    const header = d.headers["event-id"];
    if (Array.isArray(header) && !header.every((h) => Buffer.from(h).equals(Buffer.from(header[0]!)))) {
      return { ...base, eventId: null, expect: { kind: "dead-letter", reason: "malformed-event-id" } };
    }
    const single = Array.isArray(header) ? header[0] : header;
    if (single === undefined || single.length === 0) return { ...base, eventId: null, expect: { kind: "dead-letter", reason: "missing-event-id" } };
    let id: string | null;
    try {
      id = typeof single === "string" ? single : utf8.decode(single);
    } catch {
      id = null;
    }
    if (id === null || !eventIdPattern.test(id)) return { ...base, eventId: null, expect: { kind: "dead-letter", reason: "malformed-event-id" } };
    return { ...base, eventId: id, expect: verdictOf(d.value) };
  }
}
