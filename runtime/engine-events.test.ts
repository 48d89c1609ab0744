import { expect, test } from "bun:test";
import { createEngineEvents } from "./engine-events.ts";

test("a throwing listener never reaches the emitter, and the other listeners still run", () => {
  const errors: string[] = [];
  const events = createEngineEvents((name, e) => errors.push(`${name}: ${(e as Error).message}`));
  const seen: number[] = [];
  events.on("handler:called", () => {
    throw new Error("listener bug");
  });
  events.on("handler:called", (p) => seen.push(p.durationMs));
  expect(() => events.emit("handler:called", { handler: "h", durationMs: 3, ok: true })).not.toThrow();
  expect(seen).toEqual([3]);
  expect(errors).toEqual(["handler:called: listener bug"]);
});

test("unsubscribing stops delivery; an error reporter that throws is contained too", () => {
  const events = createEngineEvents(() => {
    throw new Error("reporter bug");
  });
  let calls = 0;
  const off = events.on("handler:removed", () => {
    calls++;
    throw new Error("x");
  });
  expect(() => events.emit("handler:removed", { handler: "h", file: "f" })).not.toThrow();
  off();
  events.emit("handler:removed", { handler: "h", file: "f" });
  expect(calls).toBe(1);
});
