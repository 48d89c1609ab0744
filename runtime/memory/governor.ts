/**
 * Keeps the memory the worker's JavaScript heap uses (objects and buffers) near a target. A busy
 * worker allocates ~3 KiB per 1 KiB record (buffers, decoded values, statement parameters) that is
 * garbage a moment later, and the JavaScript engine collects lazily: peaks of 300-600 MB were
 * measured for a live set of ~50 MB (bench/README.md). Above the target a full collection runs;
 * when one does not bring the heap back under it (the live set itself is larger), the next waits
 * until the heap grew by a quarter over what that collection left, instead of collecting in a loop,
 * and the governor says so once.
 *
 * The heap, not the resident size: the worker keeps freed pages for reuse (allocator-env.ts), so
 * its resident size no longer falls after a collection and would read as a live set that never shrinks.
 */
export interface MemoryGovernorDeps {
  targetBytes: number;
  /** How often the heap's size is read. */
  intervalMs?: number;
  /** The least time between two forced collections. */
  minGapMs?: number;
  /** Bytes the JavaScript heap uses now, its buffers included. */
  inUse?: () => number;
  collect?: () => void;
  now?: () => number;
  onCollected?(inUse: number): void;
  /** The heap stayed above the target through several collections: the live set is larger. Once per episode. */
  onOverTarget?(inUse: number): void;
}

export interface MemoryGovernor {
  /** One reading (the timer calls it; tests call it directly). */
  check(): void;
  start(): void;
  stop(): void;
}

/**
 * When a collection cannot bring the heap under the target (the live set is larger), the next one
 * waits until the heap grew this much over what the last one left.
 * Backing off in time instead (up to 30 s between collections) let a saturated worker grow from
 * ~180 MB after a collection to 350 MB before the next.
 */
const HEADROOM = 1.25;

export function createMemoryGovernor({
  targetBytes,
  intervalMs = 50,
  minGapMs = 200,
  // Bun counts buffers' memory (external) in heapUsed.
  inUse = () => process.memoryUsage().heapUsed,
  collect = () => Bun.gc(true),
  now = () => performance.now(),
  onCollected,
  onOverTarget,
}: MemoryGovernorDeps): MemoryGovernor {
  let timer: ReturnType<typeof setInterval> | undefined;
  let quietUntil = 0;
  // A collection is judged by the first reading after minGapMs, not by the one right after it:
  // the engine finishes freeing some memory (sweeping) after the collection returns.
  let judging = false;
  let ceiling = targetBytes;
  let warned = false;

  const check = () => {
    if (now() < quietUntil) return;
    const used = inUse();
    if (used <= targetBytes) {
      ceiling = targetBytes;
      warned = false;
    } else if (judging) {
      // What the last collection left is over the target: the next waits for a quarter more.
      ceiling = used * HEADROOM;
      if (!warned) onOverTarget?.(used);
      warned = true;
    }
    judging = false;
    if (used <= ceiling) return;
    collect();
    onCollected?.(used);
    judging = true;
    quietUntil = now() + minGapMs;
  };

  return {
    check,
    start() {
      // unref: the governor alone never keeps the process alive.
      timer ??= setInterval(check, intervalMs);
      timer.unref?.();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
