/**
 * Example handler: a projection of order totals, one row per order, from the Avro `OrderPlaced`
 * events on "orders" (schemas/order-placed.avdl → .avsc → .ts, see `ferry schemas --help`).
 *
 * Business key = order id: an order placed twice (two event ids, one order) is applied once and
 * the second goes to the dead letter topic `orders.dlt`; the same event delivered twice (one
 * event id) is skipped. A negative total can never become valid by retrying: it is dead-lettered
 * at once with `ctx.permanent`.
 */
import { defineHandler } from "ferry";
import type { OrderPlaced } from "../schemas/order-placed.ts";

export default defineHandler<OrderPlaced>({
  topic: "orders",
  format: "avro",
  schema: "../schemas/order-placed.avsc", // the reader schema: what `handle` receives, whatever version was written
  businessKey: (order) => order.orderId,
  retry: { attempts: 5, backoffMs: 200 },
  async handle(order, ctx) {
    if (order.totalCents < 0) throw ctx.permanent(`order ${order.orderId} has a negative total: ${order.totalCents}`);
    await ctx.sql`insert into order_totals ${ctx.sql({
      order_id: order.orderId,
      customer_id: order.customerId,
      total_cents: order.totalCents,
      currency: order.currency,
      items: order.items.length,
      event_id: ctx.event.id,
    })}`;
  },
});
