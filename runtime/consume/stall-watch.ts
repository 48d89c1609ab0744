import type { TopicPartition } from "../kafka/port.ts";
import type { PartitionState } from "./partition-state.ts";

/** A partition that has had records to apply and has not advanced for longer than the limit. */
export interface StalledPartition extends TopicPartition {
  /** The next offset to apply, as far as this worker knows. */
  offset: string | null;
  /** Since when it has not advanced, ms since the epoch. */
  since: number;
  lastFailure?: PartitionState["lastFailure"];
}

/**
 * Which partitions are stalled now. Pure. A partition an operator paused is not stalled (it waits
 * by design), nor one without records waiting (idle).
 */
export function findStalled(
  partitions: Iterable<[TopicPartition, PartitionState]>,
  { now, stallMs, isHeld }: { now: number; stallMs: number; isHeld(tp: TopicPartition): boolean },
): StalledPartition[] {
  const stalled: StalledPartition[] = [];
  for (const [tp, state] of partitions) {
    if (state.waitingSince === undefined || now - state.waitingSince <= stallMs || isHeld(tp)) continue;
    const offset = state.lastFailure?.offset ?? (state.applied === undefined ? null : state.applied.toString());
    stalled.push({
      topic: tp.topic,
      partition: tp.partition,
      offset,
      since: state.waitingSince,
      ...(state.lastFailure ? { lastFailure: state.lastFailure } : {}),
    });
  }
  return stalled;
}
