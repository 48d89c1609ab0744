import type { KafkaRecord } from "../kafka/port.ts";
import { dueAtOf } from "./envelope.ts";

/**
 * How many records at the head of a retry partition's batch are due at `now`, and how long until
 * the first one that is not. Only the head counts: a stage's records wait the same delay, so their
 * due times follow their offsets, and none ever runs before its time. A record without a due time
 * is due at once (it is refused as not Ferry's when prepared). Pure.
 */
export function duePrefix(records: readonly KafkaRecord[], now: number): { due: number; waitMs: number } {
  for (let i = 0; i < records.length; i++) {
    const at = dueAtOf(records[i]!);
    if (at !== null && at > now) return { due: i, waitMs: at - now };
  }
  return { due: records.length, waitMs: 0 };
}
