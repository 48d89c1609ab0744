import { seededRandom } from "../../support/events.ts";
import type { FaultRecord } from "./kafka.ts";

export interface WorkloadOptions {
  /** Share of events sent again later (same record: a technical duplicate). */
  technicalRate?: number;
  /** Share of events followed later by a new event id for the same business key (a functional duplicate). */
  functionalRate?: number;
  /** Share of events whose handler throws ctx.permanent: dead-lettered at once. */
  permanentRate?: number;
  /** Kafka keys: events of one key share a partition, so which duplicate comes first is defined. */
  keys?: number;
  seed?: number;
  /** Event ids start with this (default: the topic), so runs never collide in a shared inbox. */
  prefix?: string;
}

/**
 * `count` events for the effects handler (tests/support/handlers.ts) with what the checker must
 * expect of each: applied once, or dead-lettered with a reason. Duplicates follow their original
 * within 200 records, in the same partition.
 */
export function faultWorkload(topic: string, count: number, options: WorkloadOptions = {}): FaultRecord[] {
  const { technicalRate = 0.05, functionalRate = 0.02, permanentRate = 0.01, keys = 32, seed = 1, prefix = topic } = options;
  const random = seededRandom(seed);
  const later = new Map<number, FaultRecord[]>();
  const scheduleAfter = (i: number, record: FaultRecord) => {
    const at = i + 1 + Math.floor(random() * 200);
    later.set(at, [...(later.get(at) ?? []), record]);
  };
  const records: FaultRecord[] = [];
  for (let i = 0; i < count + 201; i++) {
    records.push(...(later.get(i) ?? []));
    if (i >= count) continue;
    const eventId = `${prefix}-${i}`;
    const businessKey = `${prefix}-biz-${i}`;
    const permanent = random() < permanentRate;
    const original: FaultRecord = {
      topic,
      key: `k${i % keys}`,
      value: JSON.stringify({ n: i, key: businessKey, seq: i, ...(permanent ? { fail: "permanent" } : {}) }),
      headers: { "event-id": eventId },
      eventId,
      intent: permanent ? { kind: "dead-letter", reason: "permanent" } : { kind: "apply", businessKey },
    };
    records.push(original);
    // A dead-lettered event sent again is skipped as seen: the checker expects one letter per record, so only good events repeat.
    if (!permanent && random() < technicalRate) scheduleAfter(i, original);
    if (random() < functionalRate) {
      const duplicateId = `${prefix}-f-${i}`;
      scheduleAfter(i, {
        ...original,
        value: JSON.stringify({ n: i, key: businessKey, seq: -1 }),
        headers: { "event-id": duplicateId },
        eventId: duplicateId,
        intent: { kind: "apply", businessKey },
      });
    }
  }
  return records;
}

/**
 * The same workload in chunks produced over a run (more whenever the workers catch up): each chunk
 * seeded and prefixed of its own, so event ids never repeat across chunks and a seed replays the run.
 */
export function workloadChunks(topic: string, seed: number, options: Omit<WorkloadOptions, "seed" | "prefix"> = {}) {
  let chunk = 0;
  let events = 0;
  return {
    next(count: number): FaultRecord[] {
      events += count;
      return faultWorkload(topic, count, { ...options, seed: seed + chunk, prefix: `${topic}-c${chunk++}` });
    },
    /** Events (not records: duplicates come on top) in the chunks so far. */
    get events() {
      return events;
    },
  };
}
