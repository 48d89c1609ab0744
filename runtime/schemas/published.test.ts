import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LoadedHandler } from "../handlers/validate.ts";
import { mergeBindings, publishedBindings } from "./published.ts";

const invoice = { type: "record", name: "InvoiceRequested", namespace: "billing", fields: [{ name: "orderId", type: "string" }] };

test("the Avro schemas handlers publish with become bindings under their topic's subject; other formats do not", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-published-"));
  writeFileSync(path.join(dir, "invoice-requested.avsc"), JSON.stringify(invoice));
  const handler = {
    name: "request-invoice",
    file: path.join(dir, "handlers", "request-invoice.ts"),
    publishes: [
      { topic: "invoice-requested", format: "avro", schema: "../invoice-requested.avsc" },
      { topic: "audit", format: "json" },
      { topic: "invoice-requested-v2", format: "avro", schema: invoice },
    ],
  } as unknown as LoadedHandler;
  const bindings = await publishedBindings([handler], "TopicName");
  expect(bindings.map((b) => [b.subject, b.topic, b.schema.name])).toEqual([
    ["invoice-requested-value", "invoice-requested", "invoice-requested.avsc"],
    ["invoice-requested-v2-value", "invoice-requested-v2", "request-invoice publishes invoice-requested-v2"],
  ]);
  expect((await publishedBindings([handler], "TopicRecordName"))[0]!.subject).toBe("invoice-requested-billing.InvoiceRequested");
  // topics.json binding the same file to the same subject: checked once.
  expect(mergeBindings([bindings[0]!], bindings).map((b) => b.subject)).toEqual(["invoice-requested-value", "invoice-requested-v2-value"]);
});
