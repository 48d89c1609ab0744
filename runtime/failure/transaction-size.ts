/**
 * How many events a partition puts in one transaction, adapted to contention: halved when a
 * transaction deadlocks or fails to serialize, doubled back after a few commits at the limit.
 * Handlers that update shared rows from many partitions then still progress (smaller
 * transactions hold fewer locks for less time); uncontended ones stay at the batch size.
 */
export interface TransactionSize {
  /** Events per transaction at most. */
  limit: number;
  /** Commits in a row at the limit since it last changed. */
  streak: number;
}

/** Commits at the limit before it doubles again. */
export const GROW_AFTER = 4;

export const initialTransactionSize = (max: number): TransactionSize => ({ limit: max, streak: 0 });

/** A transaction of `events` events hit contention: the next ones take half as many. */
export function afterContention(size: TransactionSize, events: number): TransactionSize {
  return { limit: Math.max(1, Math.min(size.limit, Math.floor(events / 2))), streak: 0 };
}

/** A transaction of `events` events committed. Only a full one says the limit is safe to raise. */
export function afterCommit(size: TransactionSize, events: number, max: number): TransactionSize {
  if (size.limit >= max || events < size.limit) return size;
  const streak = size.streak + 1;
  return streak >= GROW_AFTER ? { limit: Math.min(max, size.limit * 2), streak: 0 } : { limit: size.limit, streak };
}
