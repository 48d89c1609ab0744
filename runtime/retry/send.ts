import type { FaultInjector } from "../faults/inject.ts";
import type { OutgoingRecord, ProducerPort } from "../kafka/port.ts";

/**
 * Produces an event's retry record and resolves once Kafka acknowledged it (acks=all). It MUST be
 * acknowledged before the offset that moves past the event commits. A failure is a KafkaError:
 * the environment's, so the event waits in place and nothing is skipped.
 */
export async function sendToRetryTopic(record: OutgoingRecord, deps: { producer: ProducerPort; faults?: FaultInjector }): Promise<void> {
  const acknowledged = deps.producer.send([record]);
  deps.faults?.("retry-sending");
  await acknowledged;
  deps.faults?.("retry-acked");
}
