import { describe, expect, test } from "bun:test";
import { validateHandlerModule } from "./validate.ts";

const module = (publishes: unknown) => ({ default: { topic: "orders", publishes, handle: async () => {} } });

describe("publishes", () => {
  test("is optional, and fills in the JSON format", () => {
    const none = validateHandlerModule("h", "/h/h.ts", { default: { topic: "orders", handle: async () => {} } });
    expect("handler" in none && none.handler.publishes).toEqual([]);
    const some = validateHandlerModule("h", "/h/h.ts", module([{ topic: "invoices" }, { topic: "audit", format: "string" }]));
    expect("handler" in some && some.handler.publishes).toEqual([
      { topic: "invoices", format: "json" },
      { topic: "audit", format: "string" },
    ]);
  });

  test.each([
    ["a topic declared twice", [{ topic: "invoices" }, { topic: "invoices" }], "`publishes` declares topic invoices twice"],
    ["Avro without its schema", [{ topic: "invoices", format: "avro" }], "`publishes` topic invoices is Avro: give its writer `schema`"],
    ["a schema without Avro", [{ topic: "invoices", schema: { type: "string" } }], '`publishes` topic invoices has a `schema`: set `format: "avro"`'],
    ["a bad topic name", [{ topic: "no spaces" }], "`topic` names are 1-249 characters"],
    ["not an array", { topic: "invoices" }, "`publishes` must be an array"],
  ])("refuses %s, saying what to write instead", (_, publishes, problem) => {
    const result = validateHandlerModule("h", "/h/h.ts", module(publishes));
    expect("problems" in result && result.problems.join("\n")).toContain(problem);
  });
});
