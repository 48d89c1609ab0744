/**
 * Keeps the worker's resident memory near a target. A busy worker allocates ~3 KiB per 1 KiB
 * record (buffers, decoded values, statement parameters) that is garbage a moment later, and the
 * JavaScript engine collects lazily: peaks of 300-600 MB were measured for a live set of ~50 MB
 * (bench/README.md). Above the target a full collection runs; when one does not bring the process
 * back under it (the live set itself is larger), the governor backs off instead of collecting in
 * a loop, and says so once.
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

/** Collections in a row that found resident memory still above the target before backing off. */
const FUTILE_COLLECTIONS = 8;
const MAX_BACKOFF_MS = 30_000;

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
  // so a collection is judged by the next readings, not by the one right after it.
  let streak = 0;
  let backoffMs = 0;

  const check = () => {
    if (now() < quietUntil) return;
    const resident = rss();
    if (resident <= targetBytes) {
      streak = 0;
      backoffMs = 0;
      return;
    }
    collect();
    onCollected?.(resident);
    streak++;
    if (streak >= FUTILE_COLLECTIONS) {
      if (backoffMs === 0) onOverTarget?.(resident);
      backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(minGapMs * 2, backoffMs * 2));
    }
    quietUntil = now() + Math.max(minGapMs, backoffMs);
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
