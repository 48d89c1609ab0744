/**
 * Keeps the worker's resident memory near a target. A busy worker allocates ~3 KiB per 1 KiB
 * record (buffers, decoded values, statement parameters) that is garbage a moment later, and the
 * JavaScript engine collects lazily: peaks of 300-600 MB were measured for a live set of ~50 MB
 * (bench/README.md). Above the target a full collection runs; when one does not bring the process
 * back under it (the live set itself is larger), the next waits until memory grew by a quarter over
 * what that collection left, instead of collecting in a loop, and the governor says so once.
 */
export interface MemoryGovernorDeps {
  targetBytes: number;
  /** How often resident memory is read. */
  intervalMs?: number;
  /** The least time between two forced collections. */
  minGapMs?: number;
  rss?: () => number;
  collect?: () => void;
  now?: () => number;
  onCollected?(rss: number): void;
  /** Resident memory stayed above the target through several collections: the live set is larger. Once per episode. */
  onOverTarget?(rss: number): void;
}

export interface MemoryGovernor {
  /** One reading (the timer calls it; tests call it directly). */
  check(): void;
  start(): void;
  stop(): void;
}

/**
 * When a collection cannot bring resident memory under the target (the live set and the runtime
 * are larger), the next one waits until memory grew this much over what the last one left.
 * Backing off in time instead (up to 30 s between collections) let a saturated worker grow from
 * ~180 MB after a collection to 350 MB before the next.
 */
const HEADROOM = 1.25;

export function createMemoryGovernor({
  targetBytes,
  intervalMs = 50,
  minGapMs = 200,
  rss = () => process.memoryUsage.rss(),
  collect = () => Bun.gc(true),
  now = () => performance.now(),
  onCollected,
  onOverTarget,
}: MemoryGovernorDeps): MemoryGovernor {
  let timer: ReturnType<typeof setInterval> | undefined;
  let quietUntil = 0;
  // Freed memory leaves the process a little later (the allocator returns it in the background),
  // so a collection is judged by the first reading after minGapMs, not by the one right after it.
  let judging = false;
  let ceiling = targetBytes;
  let warned = false;

  const check = () => {
    if (now() < quietUntil) return;
    const resident = rss();
    if (resident <= targetBytes) {
      ceiling = targetBytes;
      warned = false;
    } else if (judging) {
      // What the last collection left is over the target: the next waits for a quarter more.
      ceiling = resident * HEADROOM;
      if (!warned) onOverTarget?.(resident);
      warned = true;
    }
    judging = false;
    if (resident <= ceiling) return;
    collect();
    onCollected?.(resident);
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
