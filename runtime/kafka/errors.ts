/**
 * The librdkafka adapter's side of Ferry's error model: a client failure becomes a KafkaError
 * whose `code` is librdkafka's error name (ERR__MSG_TIMED_OUT, ERR_TOPIC_AUTHORIZATION_FAILED, ...),
 * or a RecordTooLargeError when sending the same bytes again can never succeed.
 */
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { coerceError, KafkaError, RecordTooLargeError } from "../errors.ts";

const names = new Map<number, string>(Object.entries(KafkaJS.ErrorCodes as Record<string, number>).map(([name, code]) => [code, name]));
const tooLarge = new Set<number>([KafkaJS.ErrorCodes.ERR_MSG_SIZE_TOO_LARGE, KafkaJS.ErrorCodes.ERR_RECORD_LIST_TOO_LARGE]);
// Settings or credentials, not the network: trying again does not help until someone changes them.
const needsAChange = new Set<number>(
  ["ERR_TOPIC_AUTHORIZATION_FAILED", "ERR_CLUSTER_AUTHORIZATION_FAILED", "ERR__AUTHENTICATION", "ERR__INVALID_ARG", "ERR_SASL_AUTHENTICATION_FAILED"]
    .map((n) => (KafkaJS.ErrorCodes as Record<string, number>)[n])
    .filter((c): c is number => typeof c === "number"),
);

const codesOf = (names: string[]) =>
  new Set<number>(names.map((n) => (KafkaJS.ErrorCodes as Record<string, number>)[n]).filter((c): c is number => typeof c === "number"));
// The broker refused the record for its content (a compacted topic's null key, a timestamp out of
// the topic's range): the same record is refused again. A batch refused this way may hold innocent
// records too (the broker refuses a partition's whole batch): who is to blame is found by resending.
const recordRefusals = codesOf(["ERR_INVALID_RECORD", "ERR_INVALID_TIMESTAMP"]);
// The topic is refused whatever the record: it does not exist (librdkafka says so once
// topic.metadata.propagation.max.ms passed), its name is invalid, or this principal may not write it.
const topicRefusals = codesOf(["ERR_UNKNOWN_TOPIC_OR_PART", "ERR__UNKNOWN_TOPIC", "ERR_TOPIC_EXCEPTION", "ERR_TOPIC_AUTHORIZATION_FAILED"]);

/** `what` says which call failed ("producing 3 dead letters"). */
export function asKafkaError(thrown: unknown, what: string): KafkaError | RecordTooLargeError {
  if (thrown instanceof KafkaError || thrown instanceof RecordTooLargeError) return thrown;
  const error = coerceError(thrown);
  const numeric = (thrown as { code?: unknown }).code;
  const code = typeof numeric === "number" ? (names.get(numeric) ?? `ERR_${numeric}`) : "ERR_UNKNOWN";
  if (typeof numeric === "number" && tooLarge.has(numeric)) {
    return new RecordTooLargeError(`${what}: Kafka refused a record as too large: ${error.message}`, { cause: thrown, code });
  }
  const fatal = (thrown as { fatal?: unknown }).fatal === true;
  const refused = fatal || typeof numeric !== "number" ? undefined : recordRefusals.has(numeric) ? "record" : topicRefusals.has(numeric) ? "topic" : undefined;
  const retriable = !fatal && refused !== "record" && !(typeof numeric === "number" && needsAChange.has(numeric));
  return new KafkaError(`${what}: ${error.message} [${code}]`, { cause: thrown, code, retriable, ...(refused ? { refused } : {}) });
}
