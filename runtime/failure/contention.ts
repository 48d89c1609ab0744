/**
 * A handler whose partitions deadlock with each other (they update the same rows in different
 * orders) gains nothing from running them concurrently: PostgreSQL only detects a deadlock after
 * `deadlock_timeout` (1 s by default), so every deadlock stalls its transactions for a second, and
 * smaller transactions alone do not make them rarer (measured: 8 events/s for 8 partitions moving
 * money between 10 accounts). So on contention the handler's transactions run one at a time for a
 * while (a transaction-level advisory lock, across replicas too), where they commit at full batch
 * size; then concurrency is tried again. Contention that returns serializes for twice as long,
 * up to 5 minutes; a calm 10 minutes forgets it.
 */
export interface ContentionMode {
  /** Until when (ms since the epoch) the handler's transactions run one at a time. */
  serializedUntil: number;
  /** Serialized periods in a row: the next one lasts 10 s × 2^strikes. */
  strikes: number;
  lastContentionAt: number;
}

export const BASE_SERIALIZED_MS = 10_000;
export const MAX_SERIALIZED_MS = 300_000;
const FORGET_AFTER_MS = 600_000;

export const calm = (): ContentionMode => ({ serializedUntil: 0, strikes: 0, lastContentionAt: 0 });

export const isSerialized = (mode: ContentionMode, now: number) => now < mode.serializedUntil;

/** A transaction of the handler met contention at `now`. Returns the new mode, and how long it now serializes (0: no change). */
export function afterContention(mode: ContentionMode, now: number): { mode: ContentionMode; serializeForMs: number } {
  // Serialized already: what still contends is not the handler's own partitions; shrinking deals with it.
  if (isSerialized(mode, now)) return { mode: { ...mode, lastContentionAt: now }, serializeForMs: 0 };
  const strikes = now - mode.lastContentionAt > FORGET_AFTER_MS ? 0 : mode.strikes;
  const serializeForMs = Math.min(MAX_SERIALIZED_MS, BASE_SERIALIZED_MS * 2 ** strikes);
  return { mode: { serializedUntil: now + serializeForMs, strikes: strikes + 1, lastContentionAt: now }, serializeForMs };
}
