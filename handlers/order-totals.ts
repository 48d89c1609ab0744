/**
 * Example handler: keeps a projection of order totals. Business key = order id, so an order
 * placed twice (two event ids, one order) is applied once and the second goes to the dead
 * letter topic `orders.dlt`.
 */
import { defineHandler } from "ferry";

interface OrderPlaced {
  orderId: string;
  customerId: string;
  totalCents: number;
}

export default defineHandler<OrderPlaced>({
  topic: "orders",
  businessKey: (order) => order.orderId,
  retry: { attempts: 5, backoffMs: 200 },
  async handle(order, ctx) {
    if (!Number.isInteger(order.totalCents) || order.totalCents < 0) {
      throw ctx.permanent(`order ${order.orderId} has an invalid total: ${order.totalCents}`);
    }
    await ctx.sql`insert into order_totals ${ctx.sql({
      order_id: order.orderId,
      customer_id: order.customerId,
      total_cents: order.totalCents,
      event_id: ctx.event.id,
    })}`;
  },
});
