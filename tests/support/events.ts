import type { OutgoingRecord } from "../../runtime/kafka/port.ts";

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
