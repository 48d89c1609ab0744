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

/** Median ns per call of `f` over `rounds` rounds of `records` calls, after one warm-up round. */
function nsPerCall(f: (i: number) => unknown): number {
  const samples: number[] = [];
  let sink = 0;
  for (let r = 0; r <= rounds; r++) {
    const started = Bun.nanoseconds();
    for (let i = 0; i < records; i++) if (f(i)) sink++;
    if (r > 0) samples.push((Bun.nanoseconds() - started) / records);
  }
  if (sink < 0) console.log(sink); // keeps the calls observable
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

function measure(label: string, type: AvroType, payloads: Buffer[]) {
  const guard = compileGuard(type);
  const decode = createAvroDecoder({ writers: { peek: () => ({ kind: "avro", type }) } });
  const framed = payloads.map((p) => frame(1, p));
  const n = payloads.length;
  const guardNs = nsPerCall((i) => {
    guard(payloads[i % n]!);
    return true;
  });
  const avscNs = nsPerCall((i) => type.fromBuffer(payloads[i % n]!));
  const ferryNs = nsPerCall((i) => decode(framed[i % n]!));
  const bytes = Math.round(payloads.reduce((s, p) => s + p.length, 0) / n);
  console.log(
    JSON.stringify({
      record: label,
      bytes,
      guard_ns: Math.round(guardNs),
      avsc_ns: Math.round(avscNs),
      ferry_decoder_ns: Math.round(ferryNs),
      guard_share: +(guardNs / avscNs).toFixed(2),
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
