import type { EventMeta } from "../../runtime/handlers/contract.ts";
import type { OutgoingRecord } from "../../runtime/kafka/port.ts";

/** The metadata of an event with no key and no headers, as a handler sees it, for tests that call units of work directly. */
export const eventMeta = (id: string, offset: number, topic = "orders"): EventMeta => ({
  id,
  key: null,
  keyBytes: null,
  headers: {},
  topic,
  partition: 0,
  offset: String(offset),
  timestamp: 0,
});

/**
 * N events with ids `<prefix>-<i>` (prefix defaults to the topic, so ids never collide across tests:
 * the inbox would rightly treat a collision as a duplicate), keyed across `keys` keys, with
 * per-key sequence numbers.
 */
export function numberedEvents(topic: string, count: number, { prefix = topic, keys = 16 } = {}): OutgoingRecord[] {
  const seqByKey = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `k${i % keys}`;
    const seq = (seqByKey.get(key) ?? 0) + 1;
    seqByKey.set(key, seq);
    return {
      topic,
      key,
      value: JSON.stringify({ n: i, key: `${prefix}-biz-${i}`, seq }),
      headers: { "event-id": `${prefix}-${i}` },
    };
  });
}

/** A deterministic pseudo-random generator (mulberry32): the same seed gives the same workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MixedWorkload {
  records: OutgoingRecord[];
  /** Event ids that must be applied, each exactly once. */
  applied: string[];
  /** Functional duplicates: their event id and the event id that holds their business key. */
  functionalDuplicates: Array<{ eventId: string; heldBy: string }>;
  technicalDuplicates: number;
}

/**
 * `count` distinct events plus technical duplicates (the same record re-sent) and functional
 * duplicates (a new event id for an existing business key), each placed after its original in the
 * same partition (same Kafka key), so which event wins a key is deterministic.
 */
export function mixedWorkload(topic: string, count: number, { technicalRate = 0.05, functionalRate = 0.01, keys = 32, seed = 42 } = {}): MixedWorkload {
  const random = seededRandom(seed);
  const originals = numberedEvents(topic, count, { keys });
  const later = new Map<number, OutgoingRecord[]>();
  const scheduleAfter = (i: number, record: OutgoingRecord) => {
    const at = i + 1 + Math.floor(random() * 200);
    later.set(at, [...(later.get(at) ?? []), record]);
  };
  const functionalDuplicates: MixedWorkload["functionalDuplicates"] = [];
  let technicalDuplicates = 0;
  originals.forEach((record, i) => {
    if (random() < technicalRate) {
      scheduleAfter(i, record);
      technicalDuplicates++;
    }
    if (random() < functionalRate) {
      const eventId = `${topic}-f-${i}`;
      const payload = JSON.parse(record.value as string);
      scheduleAfter(i, { ...record, value: JSON.stringify({ ...payload, seq: -1 }), headers: { "event-id": eventId } });
      functionalDuplicates.push({ eventId, heldBy: `${topic}-${i}` });
    }
  });
  const records: OutgoingRecord[] = [];
  for (let i = 0; i < count + 201; i++) {
    for (const dup of later.get(i) ?? []) records.push(dup);
    if (i < count) records.push(originals[i]!);
  }
  return { records, applied: originals.map((_, i) => `${topic}-${i}`), functionalDuplicates, technicalDuplicates };
}
