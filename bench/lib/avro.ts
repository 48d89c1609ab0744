/**
 * The benchmark's Avro side: the order schema, registered under `<topic>-value` (TopicName
 * strategy, what Ferry looks up by default), and values in the registry's wire format, as
 * `ferry produce` and Confluent's serializers write them.
 */
import { parseSchema } from "../../runtime/avro/parse-schema.ts";
import { frame } from "../../runtime/avro/wire-format.ts";
import { createRegistryClient } from "../../runtime/registry/client.ts";
import { createRegistryHttp } from "../../runtime/registry/http.ts";
import type { Order } from "./workload.ts";

const text = (name: string, type: unknown = "string") => ({ name, type });

export const orderSchema = {
  type: "record",
  name: "BenchOrder",
  namespace: "ferry.bench",
  fields: [
    text("orderId"),
    text("customerId"),
    text("totalCents", "long"),
    text("currency"),
    text("placedAt"),
    text("channel"),
    text("lines", { type: "array", items: { type: "record", name: "Line", fields: [text("sku"), text("quantity", "int"), text("priceCents", "long")] } }),
    text("shipping", { type: "record", name: "Address", fields: [text("name"), text("street"), text("city"), text("zip"), text("country")] }),
    text("note"),
  ],
};
export const orderSchemaText = JSON.stringify(orderSchema);

export interface BenchAvro {
  /** Registers the order schema for `topic`; returns the serializer of its values. */
  register(topic: string): Promise<(order: Order) => Buffer>;
  cleanup(): Promise<void>;
}

export function benchAvro(registryUrl: string): BenchAvro {
  const client = createRegistryClient(createRegistryHttp({ url: registryUrl, timeoutMs: 10_000, retries: 2, retryBackoffMs: 200 }));
  const type = parseSchema(orderSchema, "bench order schema");
  const subjects: string[] = [];
  return {
    async register(topic) {
      const subject = `${topic}-value`;
      subjects.push(subject);
      const { id } = await client.register(subject, orderSchemaText);
      return (order) => frame(id, type.toBuffer(order));
    },
    async cleanup() {
      await Promise.allSettled(subjects.map((s) => client.deleteSubject(s)));
    },
  };
}
