/**
 * The compatibility matrix: schema changes and the verdict each level should give. Shared by the
 * pure tests (compatibility.test.ts) and the test against the real registry
 * (tests/integration/registry-compatibility.test.ts), which checks our verdicts against Apicurio's.
 */
import type { CompatibilityLevel } from "./compatibility.ts";

type Field = Record<string, unknown>;
const order = (fields: Field[], name = "Order", namespace = "shop") => ({ type: "record", name, namespace, fields });
const id = { name: "id", type: "string" };
const status = (symbols: string[], def?: string) => ({
  name: "status",
  type: { type: "enum", name: "Status", symbols, ...(def ? { default: def } : {}) },
});
const items = (itemFields: Field[]) => ({ name: "items", type: { type: "array", items: { type: "record", name: "Item", fields: itemFields } } });

export interface CompatibilityCase {
  name: string;
  /** Registered versions, oldest first. */
  history: object[];
  candidate: object;
  /** Verdicts (true = compatible); levels not given follow from these (FULL = BACKWARD and FORWARD, ...). */
  backward: boolean;
  forward: boolean;
  backwardTransitive?: boolean;
  forwardTransitive?: boolean;
  /** A substring the first problem's message must contain. */
  message?: string;
}

export const compatibilityCases: CompatibilityCase[] = [
  {
    name: "add a field with a default",
    history: [order([id])],
    candidate: order([id, { name: "currency", type: "string", default: "EUR" }]),
    backward: true,
    forward: true,
  },
  {
    name: "add a field without a default",
    history: [order([id])],
    candidate: order([id, { name: "currency", type: "string" }]),
    backward: false,
    forward: true,
    message: "field `Order.currency` added without a default: data written with version 1 cannot be read",
  },
  {
    name: "remove a field that had a default",
    history: [order([id, { name: "note", type: "string", default: "" }])],
    candidate: order([id]),
    backward: true,
    forward: true,
  },
  {
    name: "remove a field without a default",
    history: [order([id, { name: "note", type: "string" }])],
    candidate: order([id]),
    backward: true,
    forward: false,
    message: "field `Order.note` removed, but version 1 has no default for it",
  },
  {
    name: "promote int to long",
    history: [order([{ name: "total", type: "int" }])],
    candidate: order([{ name: "total", type: "long" }]),
    backward: true,
    forward: false,
  },
  {
    name: "narrow long to int",
    history: [order([{ name: "total", type: "long" }])],
    candidate: order([{ name: "total", type: "int" }]),
    backward: false,
    forward: true,
    message: "`Order.total` changed from long to int",
  },
  {
    name: "promote float to double",
    history: [order([{ name: "x", type: "float" }])],
    candidate: order([{ name: "x", type: "double" }]),
    backward: true,
    forward: false,
  },
  {
    name: "promote int to double in a map's values",
    history: [order([{ name: "m", type: { type: "map", values: "int" } }])],
    candidate: order([{ name: "m", type: { type: "map", values: "double" } }]),
    backward: true,
    forward: false,
  },
  {
    name: "string to bytes",
    history: [order([{ name: "x", type: "string" }])],
    candidate: order([{ name: "x", type: "bytes" }]),
    backward: true,
    forward: true,
  },
  { name: "int to string", history: [order([{ name: "x", type: "int" }])], candidate: order([{ name: "x", type: "string" }]), backward: false, forward: false },
  {
    name: "add an enum symbol",
    history: [order([status(["NEW", "PAID"])])],
    candidate: order([status(["NEW", "PAID", "SHIPPED"])]),
    backward: true,
    forward: false,
    message: "enum `Order.status` gained symbol SHIPPED",
  },
  {
    name: "remove an enum symbol",
    history: [order([status(["NEW", "PAID"])])],
    candidate: order([status(["NEW"])]),
    backward: false,
    forward: true,
    message: "enum `Order.status` no longer has symbol PAID",
  },
  {
    name: "add an enum symbol when the enum has a default",
    history: [order([status(["NEW", "PAID"], "NEW")])],
    candidate: order([status(["NEW", "PAID", "SHIPPED"], "NEW")]),
    backward: true,
    forward: true,
  },
  {
    name: "add a union branch",
    history: [order([{ name: "note", type: ["null", "string"] }])],
    candidate: order([{ name: "note", type: ["null", "string", "int"] }]),
    backward: true,
    forward: false,
    message: "`Order.note` can now hold int",
  },
  {
    name: "remove a union branch",
    history: [order([{ name: "note", type: ["null", "string", "int"] }])],
    candidate: order([{ name: "note", type: ["null", "string"] }]),
    backward: false,
    forward: true,
  },
  {
    name: "make a field optional (string → union[null, string])",
    history: [order([{ name: "note", type: "string" }])],
    candidate: order([{ name: "note", type: ["null", "string"], default: null }]),
    backward: true,
    forward: false,
  },
  {
    name: "rename a field with an alias",
    history: [order([id, { name: "total", type: "int" }])],
    candidate: order([id, { name: "amount", type: "int", aliases: ["total"] }]),
    backward: true,
    forward: false,
  },
  {
    name: "rename the record without an alias",
    history: [order([id])],
    candidate: order([id], "Purchase"),
    backward: false,
    forward: false,
    message: "renamed from shop.Order to shop.Purchase",
  },
  {
    name: "rename the record with an alias",
    history: [order([id])],
    candidate: { ...order([id], "Purchase"), aliases: ["Order"] },
    backward: true,
    forward: false,
  },
  {
    name: "add a field without a default inside array items",
    history: [order([items([{ name: "sku", type: "string" }])])],
    candidate: order([
      items([
        { name: "sku", type: "string" },
        { name: "qty", type: "int" },
      ]),
    ]),
    backward: false,
    forward: true,
    message: "`Order.items[].qty` added without a default",
  },
  {
    name: "change a fixed's size",
    history: [order([{ name: "h", type: { type: "fixed", name: "Hash", size: 16 } }])],
    candidate: order([{ name: "h", type: { type: "fixed", name: "Hash", size: 32 } }]),
    backward: false,
    forward: false,
  },
  {
    name: "drop a default that only the middle version had (transitive backward breaks)",
    history: [order([id]), order([id, { name: "c", type: "string", default: "x" }])],
    candidate: order([id, { name: "c", type: "string" }]),
    backward: true,
    forward: true,
    backwardTransitive: false,
    forwardTransitive: true,
    message: "data written with version 1 cannot be read",
  },
  {
    name: "remove a field only the middle version defaulted (transitive forward breaks)",
    history: [order([id, { name: "c", type: "string" }]), order([id, { name: "c", type: "string", default: "x" }])],
    candidate: order([id]),
    backward: true,
    forward: true,
    backwardTransitive: true,
    forwardTransitive: false,
  },
];

/** The verdict a case expects under a level. */
export function expectedVerdict(c: CompatibilityCase, level: CompatibilityLevel): boolean {
  const bt = c.backwardTransitive ?? c.backward;
  const ft = c.forwardTransitive ?? c.forward;
  switch (level) {
    case "NONE":
      return true;
    case "BACKWARD":
      return c.backward;
    case "FORWARD":
      return c.forward;
    case "FULL":
      return c.backward && c.forward;
    case "BACKWARD_TRANSITIVE":
      return bt;
    case "FORWARD_TRANSITIVE":
      return ft;
    case "FULL_TRANSITIVE":
      return bt && ft;
  }
}
