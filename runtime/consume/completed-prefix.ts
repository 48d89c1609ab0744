/**
 * The contiguous completed prefix of a partition batch whose events finish out of order (key-level
 * concurrency). Only the prefix may become the partition's stored offset: an event completed past
 * a gap is redelivered after a crash, and the inbox skips it. Pure.
 */
export interface CompletedPrefix {
  /** Record `index` of the batch is done (applied, a duplicate or dead-lettered). True when the prefix grew. */
  complete(index: number): boolean;
  /** The offset after the prefix: the batch's first offset while its first record is not done. */
  next(): string;
  /** Whether every record of the batch is done. */
  readonly done: boolean;
}

/** `offsets`: the batch's record offsets, ascending (gaps allowed: compaction, transaction markers). */
export function completedPrefix(offsets: readonly string[]): CompletedPrefix {
  if (offsets.length === 0) throw new Error("a completed prefix needs at least one record");
  const finished = new Uint8Array(offsets.length);
  // Records [0, length) are done.
  let length = 0;
  return {
    complete(index) {
      if (index < 0 || index >= offsets.length) throw new RangeError(`record ${index} is not in this batch of ${offsets.length}`);
      finished[index] = 1;
      if (index !== length) return false;
      while (length < offsets.length && finished[length] === 1) length++;
      return true;
    },
    next: () => (length === 0 ? offsets[0]! : (BigInt(offsets[length - 1]!) + 1n).toString()),
    get done() {
      return length === offsets.length;
    },
  };
}
