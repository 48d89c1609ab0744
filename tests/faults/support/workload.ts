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

export interface RetryWorkloadOptions {
  /** Shares of events whose first 1, 2 or 3 attempts fail (with two delays, 3 is every attempt: dead-lettered as retry-topics-exhausted). */
  failRates: readonly [once: number, twice: number, always: number];
  permanentRate: number;
  /** Share of eventually-successful events sent again later (the same record: a technical duplicate). */
  technicalRate: number;
  keys?: number;
}

/**
 * Events for the effects handler with retry topics: each says how many of its attempts fail
 * (`failUntil`, steered by `ctx.attempt`), so the checker knows its fate from the payload alone:
 * applied once on attempt failUntil + 1, or dead-lettered. No functional duplicates: which of two
 * events with one business key wins is the order in which they finally apply, and a retry changes
 * that order by design. Dead-lettered events are never repeated (a repeat is skipped as seen).
 */
export function retryWorkload(topic: string, count: number, seed: number, prefix: string, options: RetryWorkloadOptions): FaultRecord[] {
  const { failRates, permanentRate, technicalRate, keys = 32 } = options;
  const random = seededRandom(seed);
  const later = new Map<number, FaultRecord[]>();
  const records: FaultRecord[] = [];
  for (let i = 0; i < count + 201; i++) {
    records.push(...(later.get(i) ?? []));
    if (i >= count) continue;
    const eventId = `${prefix}-${i}`;
    const businessKey = `${prefix}-biz-${i}`;
    const roll = random();
    const failUntil = roll < failRates[0] ? 1 : roll < failRates[0] + failRates[1] ? 2 : roll < failRates[0] + failRates[1] + failRates[2] ? 3 : 0;
    const permanent = failUntil === 0 && random() < permanentRate;
    const record: FaultRecord = {
      topic,
      key: `k${i % keys}`,
      value: JSON.stringify({ n: i, key: businessKey, seq: i, failUntil, ...(permanent ? { fail: "permanent" } : {}) }),
      headers: { "event-id": eventId },
      eventId,
      intent: permanent
        ? { kind: "dead-letter", reason: "permanent" }
        : failUntil >= 3
          ? { kind: "dead-letter", reason: "retry-topics-exhausted", messagePrefix: `event ${i} fails on attempt 3` }
          : { kind: "apply", businessKey },
    };
    records.push(record);
    if (record.intent.kind === "apply" && random() < technicalRate) {
      const at = i + 1 + Math.floor(random() * 200);
      later.set(at, [...(later.get(at) ?? []), record]);
    }
  }
  return records;
}
