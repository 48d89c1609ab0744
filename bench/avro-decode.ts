/**
 * Microbenchmark of the Avro decode path, per record, no Kafka or PostgreSQL: the strict guard
 * (runtime/avro/strict-guard.ts) alone, avsc's decode alone, and Ferry's whole decoder (unframe,
 * guard, avsc), for the benchmark's ~1 KiB order (bench/lib/avro.ts) and the seed's OrderPlaced.
 * Not part of `bun test`; numbers are only comparable within one run on a quiet machine.
 *
 *   bun bench/avro-decode.ts [--rounds 7] [--records 200000]
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createAvroDecoder } from "../runtime/avro/decoder.ts";
import { type AvroType, parseSchema } from "../runtime/avro/parse-schema.ts";
import { compileGuard } from "../runtime/avro/strict-guard.ts";
import { frame } from "../runtime/avro/wire-format.ts";
import { orderSchema } from "./lib/avro.ts";
import { order } from "./lib/workload.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, records: { type: "string", default: "200000" } } });
const rounds = Number(values.rounds);
const records = Number(values.records);

/**
 * Median ns per call of each function over `rounds` rounds of `records` calls, after one warm-up
 * round, in CPU time (process.cpuUsage: a busy machine delays the loop, it does not add to its CPU
 * time). The functions take turns within each round, so what remains of the noise hits them alike.
 */
function nsPerCall(fs: Record<string, (i: number) => unknown>): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(fs).map((k) => [k, []]));
  let sink = 0;
  for (let r = 0; r <= rounds; r++) {
    for (const [name, f] of Object.entries(fs)) {
      const started = process.cpuUsage();
      for (let i = 0; i < records; i++) if (f(i)) sink++;
      const used = process.cpuUsage(started);
      if (r > 0) samples[name]!.push(((used.user + used.system) * 1_000) / records);
    }
  }
  if (sink < 0) console.log(sink); // keeps the calls observable
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
}

function measure(label: string, type: AvroType, payloads: Buffer[]) {
  const guard = compileGuard(type);
  const decode = createAvroDecoder({ writers: { peek: () => ({ kind: "avro", type }) } });
  const framed = payloads.map((p) => frame(1, p));
  const n = payloads.length;
  const ns = nsPerCall({
    guard: (i) => {
      guard(payloads[i % n]!);
      return true;
    },
    avsc: (i) => type.fromBuffer(payloads[i % n]!),
    ferry: (i) => decode(framed[i % n]!),
  });
  const bytes = Math.round(payloads.reduce((s, p) => s + p.length, 0) / n);
  console.log(
    JSON.stringify({
      record: label,
      bytes,
      guard_ns: Math.round(ns.guard!),
      avsc_ns: Math.round(ns.avsc!),
      ferry_decoder_ns: Math.round(ns.ferry!),
      guard_share: +(ns.guard! / ns.avsc!).toFixed(2),
    }),
  );
}

const bench = parseSchema(orderSchema, "bench order");
const serialize = (o: unknown) => bench.toBuffer(o);
measure(
  "bench order (~1 KiB)",
  bench,
  Array.from({ length: 64 }, (_, i) => bench.toBuffer(order("bench", i, 1024, 4096, serialize))),
);

const orderPlaced = parseSchema(JSON.parse(readFileSync(path.resolve(import.meta.dir, "../schemas/order-placed.avsc"), "utf8")), "order-placed.avsc");
measure(
  "OrderPlaced (3 items)",
  orderPlaced,
  Array.from({ length: 64 }, (_, i) =>
    orderPlaced.toBuffer({
      orderId: `order-${i}`,
      customerId: `customer-${i % 7}`,
      totalCents: 1_000 + i,
      currency: "EUR",
      paymentMethod: "CARD",
      items: Array.from({ length: 3 }, (_, l) => ({ sku: `SKU-${i}-${l}`, quantity: 1 + l, unitPriceCents: 199 + l })),
      couponCode: i % 2 ? null : "WELCOME",
      placedAt: 1_763_900_000_000 + i,
    }),
  ),
);
