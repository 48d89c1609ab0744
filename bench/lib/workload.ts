/**
 * The benchmark's events: ~1 KB JSON orders with an `event-id` header, keyed by customer (so a
 * customer's events share a partition), plus a realistic share of duplicates placed after their
 * original in the same partition: technical (the same record re-sent) and functional (a new
 * event id for an order already placed).
 */
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";
import { seededRandom } from "../../tests/support/events.ts";

export interface Order {
  orderId: string;
  customerId: string;
  totalCents: number;
  currency: string;
  placedAt: string;
  channel: string;
  lines: Array<{ sku: string; quantity: number; priceCents: number }>;
  shipping: { name: string; street: string; city: string; zip: string; country: string };
  note: string;
}

export interface WorkloadOptions {
  /** Distinct events (orders); duplicates come on top. */
  count: number;
  payloadBytes?: number;
  technicalRate?: number;
  functionalRate?: number;
  customers?: number;
  seed?: number;
  serialize?: Serialize;
}

export interface WorkloadShape {
  distinct: number;
  technicalDuplicates: number;
  functionalDuplicates: number;
  records: number;
}

/** How an order becomes a record value: JSON text (the default) or Avro in the wire format. */
export type Serialize = (order: Order) => Buffer | string;
export const json: Serialize = (o) => JSON.stringify(o);

/** The `i`-th order, its `note` padded so the serialized value is ~`payloadBytes`. */
export function order(tag: string, i: number, payloadBytes: number, customers: number, serialize: Serialize = json): Order {
  const lines = Array.from({ length: 1 + (i % 4) }, (_, l) => ({
    sku: `SKU-${(i * 7 + l) % 10_000}`,
    quantity: 1 + ((i + l) % 3),
    priceCents: 199 + ((i * 31 + l) % 9_000),
  }));
  const o: Order = {
    orderId: `${tag}-order-${i}`,
    customerId: `c${i % customers}`,
    totalCents: lines.reduce((s, l) => s + l.quantity * l.priceCents, 0),
    currency: "EUR",
    placedAt: new Date(1_763_900_000_000 + i * 1_000).toISOString(),
    channel: i % 3 === 0 ? "app" : "web",
    lines,
    shipping: { name: `Customer ${i % customers}`, street: `${i % 200} Long Street`, city: "Rotterdam", zip: `30${i % 100}AB`, country: "NL" },
    note: "",
  };
  const bare = serialize(o);
  const pad = payloadBytes - bare.length;
  // Avro spends one more byte on the note's length once it passes 63 bytes.
  o.note = "x".repeat(Math.max(0, pad - (Buffer.isBuffer(bare) && pad > 63 ? 1 : 0)));
  return o;
}

/**
 * Yields the records of `topic` lazily, in produce order. `shape` is filled in as records are
 * yielded and is complete once the generator is exhausted; `plan` gives it up front.
 */
export function* workload(topic: string, tag: string, options: WorkloadOptions, shape?: WorkloadShape): Generator<OutgoingRecord> {
  const { count, payloadBytes = 1024, technicalRate = 0.05, functionalRate = 0.01, customers = 4096, seed = 7, serialize = json } = options;
  const random = seededRandom(seed);
  const later = new Map<number, OutgoingRecord[]>();
  const schedule = (i: number, record: OutgoingRecord) => {
    const at = i + 1 + Math.floor(random() * 200);
    const list = later.get(at);
    if (list) list.push(record);
    else later.set(at, [record]);
  };
  const s = shape ?? { distinct: 0, technicalDuplicates: 0, functionalDuplicates: 0, records: 0 };
  for (let i = 0; i < count + 201; i++) {
    const due = later.get(i);
    if (due) {
      later.delete(i);
      for (const r of due) {
        s.records++;
        yield r;
      }
    }
    if (i >= count) continue;
    const o = order(tag, i, payloadBytes, customers, serialize);
    const record: OutgoingRecord = { topic, key: o.customerId, value: serialize(o), headers: { "event-id": `${tag}-${i}` } };
    s.distinct++;
    s.records++;
    yield record;
    if (random() < technicalRate) {
      s.technicalDuplicates++;
      schedule(i, record);
    }
    if (random() < functionalRate) {
      s.functionalDuplicates++;
      schedule(i, { ...record, value: serialize({ ...o, note: `${o.note.slice(1)}y` }), headers: { "event-id": `${tag}-f-${i}` } });
    }
  }
}

/** The workload's counts without producing it. */
export function plan(options: WorkloadOptions): WorkloadShape {
  const shape: WorkloadShape = { distinct: 0, technicalDuplicates: 0, functionalDuplicates: 0, records: 0 };
  // Only the random draws matter; payloads are built but discarded.
  for (const _ of workload("t", "t", { ...options, payloadBytes: 0 }, shape)) void _;
  return shape;
}
