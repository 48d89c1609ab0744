/**
 * The stream `ferry produce --demo` sends to the example handler (handlers/order-totals.ts): new
 * orders, the two kinds of duplicate and two events no retry can fix, each with what Ferry should
 * do with it. Order ids carry a run id, so the demo ends the same way every time it is re-run
 * against the same database.
 */
import type { OrderPlaced } from "../../schemas/order-placed.ts";

export type Expectation = "applied" | "technical-duplicate" | "functional-duplicate" | "decode-failed" | "permanent";

export interface DemoItem {
  /** What the event is, for a person reading along. */
  label: string;
  expect: Expectation;
  key: string;
  eventId: string;
  /** An order to encode with the schema, or raw bytes (the poison message). */
  value: OrderPlaced | Buffer;
}

export function demoStream(runId: string, placedAt = Date.now()): DemoItem[] {
  const orderId = (n: number) => `o-${runId}-${String(n).padStart(2, "0")}`;
  const order = (n: number, totalCents = 1_000 + 250 * n): OrderPlaced => ({
    orderId: orderId(n),
    customerId: `c-${(n % 3) + 1}`,
    totalCents,
    currency: "EUR",
    paymentMethod: n % 4 === 0 ? "INVOICE" : "CARD",
    items: [{ sku: `sku-${n}`, quantity: 1 + (n % 2), unitPriceCents: totalCents }],
    couponCode: null,
    placedAt: placedAt + n,
  });
  const eventId = (n: number, variant = "") => `evt-${runId}-${String(n).padStart(2, "0")}${variant}`;
  const placed = (n: number): DemoItem => ({ label: `order ${orderId(n)} placed`, expect: "applied", key: orderId(n), eventId: eventId(n), value: order(n) });
  const redelivered = (n: number): DemoItem => ({
    label: `order ${orderId(n)} again, same event id (a producer retry)`,
    expect: "technical-duplicate",
    key: orderId(n),
    eventId: eventId(n),
    value: order(n),
  });
  const placedTwice = (n: number): DemoItem => ({
    label: `order ${orderId(n)} again, new event id (sent twice upstream)`,
    expect: "functional-duplicate",
    key: orderId(n),
    eventId: eventId(n, "-b"),
    value: order(n),
  });
  return [
    placed(1),
    placed(2),
    placed(3),
    placed(4),
    redelivered(2),
    placed(5),
    placed(6),
    placedTwice(3),
    {
      label: "a poison message: bytes that are not Avro",
      expect: "decode-failed",
      key: `poison-${runId}`,
      eventId: eventId(90),
      value: Buffer.from("this is not an Avro record"),
    },
    { label: `order ${orderId(11)} with a negative total`, expect: "permanent", key: orderId(11), eventId: eventId(11), value: order(11, -500) },
    placed(7),
    placed(8),
    redelivered(5),
    placed(9),
    placed(10),
    redelivered(8),
    placedTwice(6),
  ];
}

/** What the handler's tally reaches once the stream is consumed. */
export function expectedEnd(items: DemoItem[]): { applied: number; technicalDuplicates: number; deadLetters: Record<string, number> } {
  const count = (e: Expectation) => items.filter((i) => i.expect === e).length;
  const deadLetters: Record<string, number> = {};
  for (const reason of ["functional-duplicate", "decode-failed", "permanent"] as const) if (count(reason)) deadLetters[reason] = count(reason);
  return { applied: count("applied"), technicalDuplicates: count("technical-duplicate"), deadLetters };
}
