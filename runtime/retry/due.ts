import type { KafkaRecord } from "../kafka/port.ts";
import { dueAtOf } from "./envelope.ts";

/**
 * How many records at the head of a retry partition's batch are due at `now`, and how long until
 * the first one that is not. Only the head counts: a stage's records wait the same delay, so their
 * due times follow their offsets, and none ever runs before its time. A record without a due time
 * is due at once (it is refused as not Ferry's when prepared).
 *
 * `latest` bounds every due time: a record seen at T was written before T, so it is due by T plus
 * its stage's delay whatever its header says. A header further ahead comes from a clock ahead of
 * this one (or from someone else than Ferry), and trusting it would hold the partition for as long
 * as that clock is ahead, for good with a due time in year 2500. Pure.
 */
export function duePrefix(records: readonly KafkaRecord[], now: number, latest = Number.POSITIVE_INFINITY): { due: number; waitMs: number } {
  for (let i = 0; i < records.length; i++) {
    const written = dueAtOf(records[i]!);
    const at = written === null ? null : Math.min(written, latest);
    if (at !== null && at > now) return { due: i, waitMs: at - now };
  }
  return { due: records.length, waitMs: 0 };
}

/**
 * When each retry partition's head record was first seen by this process: with the stage's delay,
 * the latest it can be due. Forgotten when the head moves on; a restart sees it anew, so a record
 * with a due time too far ahead waits at most one stage delay per process that holds it.
 */
export function headSightings(): (partition: string, headOffset: string, now: number) => number {
  const seen = new Map<string, { offset: string; at: number }>();
  return (partition, headOffset, now) => {
    const known = seen.get(partition);
    if (known?.offset === headOffset) return known.at;
    seen.set(partition, { offset: headOffset, at: now });
    return now;
  };
}
