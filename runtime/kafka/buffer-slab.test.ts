import { expect, test } from "bun:test";
import { createSlabAllocator } from "./buffer-slab.ts";

test("small copies share a slab, at aligned offsets, without overlapping", () => {
  const alloc = createSlabAllocator(1024, 256);
  const a = alloc(10);
  const b = alloc(20);
  expect(a.buffer).toBe(b.buffer);
  expect(a.length).toBe(10);
  expect(b.byteOffset - a.byteOffset).toBe(16);
  a.fill(1);
  b.fill(2);
  expect([...a].every((x) => x === 1)).toBe(true);
});

test("a copy that does not fit starts a new slab; a large one gets its own buffer", () => {
  const alloc = createSlabAllocator(64, 32);
  const first = alloc(32);
  const second = alloc(32);
  const third = alloc(8);
  expect(second.buffer).toBe(first.buffer);
  expect(third.buffer).not.toBe(first.buffer);
  const large = alloc(33);
  expect(large.byteOffset).toBe(0);
  expect(large.buffer.byteLength).toBe(33);
  expect(alloc(0).length).toBe(0);
});
