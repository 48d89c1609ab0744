import { describe, expect, test } from "bun:test";
import { validateHandlerModule } from "./validate.ts";

const handle = async () => {};
const validate = (definition: Record<string, unknown>) => validateHandlerModule("h", "/h.ts", { default: { topic: "orders", handle, ...definition } });

describe("concurrency option", () => {
  test('is absent by default, and order defaults to "key"', () => {
    expect(validate({})).toMatchObject({ handler: { name: "h" } });
    const plain = validate({});
    expect("handler" in plain ? plain.handler : plain).not.toHaveProperty("concurrency");
    expect(validate({ concurrency: { perPartition: 32 } })).toMatchObject({ handler: { concurrency: { perPartition: 32, order: "key" } } });
    expect(validate({ concurrency: { perPartition: 4, order: "none" } })).toMatchObject({ handler: { concurrency: { perPartition: 4, order: "none" } } });
  });

  test.each([
    [{ perPartition: 0 }, "`concurrency.perPartition` must be at least 1"],
    [{ perPartition: 1000 }, "`concurrency.perPartition` must be at most 256 (each running event holds a database connection)"],
    [{ perPartition: 2.5 }, "`concurrency.perPartition` must be a whole number of events from 1 to 256"],
    [{ perPartition: "32" }, "`concurrency.perPartition` must be a whole number of events from 1 to 256"],
    [{}, "`concurrency.perPartition` is missing"],
    [{ perPartition: 8, order: "partition" }, '`concurrency.order` must be "key" (same key in offset order) or "none"'],
    [32, '`concurrency` must be an object { perPartition, order: "key" | "none" }'],
  ])("refuses %p with a message saying what is expected", (concurrency, problem) => {
    expect(validate({ concurrency })).toEqual({ problems: [problem] });
  });

  test("refuses a set-based handler: each event runs alone", () => {
    const result = validateHandlerModule("h", "/h.ts", { default: { topic: "orders", handleBatch: handle, concurrency: { perPartition: 8 } } });
    expect(result).toEqual({
      problems: ["`concurrency` runs each event alone, in its own transaction: define `handle` (not `handleBatch`), or remove `concurrency`"],
    });
  });
});

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
