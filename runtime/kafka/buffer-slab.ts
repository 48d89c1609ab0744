/**
 * Where the Kafka addon's copies of keys, values and headers live (runtime/kafka/bun-compat/
 * bunshim.cc asks `globalThis.__ferryKafkaBuffer` for each). A fresh ArrayBuffer per copy made
 * the garbage collector the worker's largest cost at saturation (bench/README.md, Profiling);
 * small copies are views into a shared slab instead, one allocation per slab.
 *
 * The trade-off: a slab is freed when the last view into it is. A record kept for long (a
 * handler caching `event.keyBytes`) keeps its slab's `SLAB_BYTES` alive, where an own buffer
 * kept only its size; copies larger than `MAX_POOLED_BYTES` get their own buffer as before.
 */
export const KAFKA_BUFFER_GLOBAL = "__ferryKafkaBuffer";
export const SLAB_BYTES = 256 * 1024;
export const MAX_POOLED_BYTES = 16 * 1024;

/** A buffer of `length` bytes, contents unset (the addon copies into it at once). */
export function createSlabAllocator(slabBytes = SLAB_BYTES, maxPooledBytes = MAX_POOLED_BYTES): (length: number) => Buffer {
  let slab = Buffer.allocUnsafeSlow(0);
  let used = 0;
  return (length) => {
    if (length > maxPooledBytes) return Buffer.allocUnsafeSlow(length);
    if (used + length > slab.length) {
      slab = Buffer.allocUnsafeSlow(slabBytes);
      used = 0;
    }
    const view = slab.subarray(used, used + length);
    // 8-byte aligned starts, as malloc'd buffers have (typed-array views over them stay legal).
    used += (length + 7) & ~7;
    return view;
  };
}

/** Installs the allocator for the addon; idempotent. */
export function installKafkaBufferSlab(): void {
  const g = globalThis as Record<string, unknown>;
  if (typeof g[KAFKA_BUFFER_GLOBAL] !== "function") g[KAFKA_BUFFER_GLOBAL] = createSlabAllocator();
}
