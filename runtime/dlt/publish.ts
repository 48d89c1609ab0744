import { coerceError, KafkaError, RecordTooLargeError } from "../errors.ts";
import type { FaultInjector } from "../faults/inject.ts";
import type { OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { withoutValue } from "./dead-letter.ts";
import { withSendSpans } from "../trace/span.ts";

export interface PublishDeps {
  producer: ProducerPort;
  log: Logger;
  /** Test-only fault injection (FERRY_FAULT_INJECT). */
  faults?: FaultInjector;
}

/**
 * Produces dead letters and resolves once Kafka acknowledged every one (acks=all). They MUST be
 * acknowledged before the offset that skips their events commits. A letter Kafka refuses as too
 * large goes again without the original value: retrying the same bytes would hold the partition
 * forever. Any other failure is a KafkaError: the environment's, never the event's.
 */
export async function publishDeadLetters(letters: OutgoingRecord[], deps: PublishDeps): Promise<void> {
  // A producer span per letter in its event's trace; its context goes out in the letter's traceparent.
  await withSendSpans(letters, spanAttributes, (traced) => publishAll(traced, deps));
}

const spanAttributes = (letter: OutgoingRecord) => {
  const header = (name: string) => letter.headers?.[name]?.toString();
  const eventId = header("ferry-event-id");
  return { ...(eventId ? { "messaging.message.id": eventId } : {}), "ferry.dead_letter.reason": header("ferry-reason") ?? "unknown" };
};

async function publishAll(letters: OutgoingRecord[], deps: PublishDeps): Promise<void> {
  try {
    await produce(letters, deps);
  } catch (e) {
    if (!(e instanceof RecordTooLargeError)) throw e;
    // Find the letters Kafka refuses and send those without the original value.
    for (const letter of letters) {
      try {
        await produce([letter], deps);
      } catch (again) {
        if (!(again instanceof RecordTooLargeError)) throw again;
        const trimmed = withoutValue(letter);
        deps.log.warn("dead-letter:value-omitted", {
          topic: letter.topic,
          eventId: trimmed.headers?.["ferry-event-id"],
          bytes: trimmed.headers?.["ferry-value-omitted"],
        });
        await produce([trimmed], deps).catch((last: unknown) => {
          throw new KafkaError(`a dead letter for ${letter.topic} is too large even without its value: ${coerceError(last).message}`, {
            cause: last,
            code: (last as { code?: string }).code ?? "record-too-large",
            retriable: false,
          });
        });
      }
    }
  }
}

async function produce(letters: OutgoingRecord[], deps: PublishDeps): Promise<void> {
  const acknowledged = deps.producer.send(letters);
  deps.faults?.("dead-letter-sending");
  await acknowledged;
  deps.faults?.("dead-letter-acked");
}
