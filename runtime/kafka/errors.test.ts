import { describe, expect, test } from "bun:test";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { KafkaError, RecordTooLargeError } from "../errors.ts";
import { asKafkaError } from "./errors.ts";

/** What the client rejects with: an Error with librdkafka's numeric code. */
const thrown = (name: keyof typeof KafkaJS.ErrorCodes, fatal = false) =>
  Object.assign(new Error(`librdkafka says ${name}`), { code: KafkaJS.ErrorCodes[name], fatal });

describe("asKafkaError: what Kafka refused, from the code", () => {
  test.each<[keyof typeof KafkaJS.ErrorCodes, { refused: "record" | "topic" | undefined; retriable: boolean }]>([
    ["ERR_INVALID_RECORD", { refused: "record", retriable: false }],
    ["ERR_INVALID_TIMESTAMP", { refused: "record", retriable: false }],
    ["ERR_UNKNOWN_TOPIC_OR_PART", { refused: "topic", retriable: true }],
    ["ERR__UNKNOWN_TOPIC", { refused: "topic", retriable: true }],
    ["ERR_TOPIC_EXCEPTION", { refused: "topic", retriable: true }],
    ["ERR_TOPIC_AUTHORIZATION_FAILED", { refused: "topic", retriable: false }],
    ["ERR_CLUSTER_AUTHORIZATION_FAILED", { refused: undefined, retriable: false }],
    ["ERR__MSG_TIMED_OUT", { refused: undefined, retriable: true }],
    ["ERR_NOT_ENOUGH_REPLICAS", { refused: undefined, retriable: true }],
    ["ERR__TRANSPORT", { refused: undefined, retriable: true }],
  ])("%s", (name, expected) => {
    const error = asKafkaError(thrown(name), "relaying 3 outbox event(s)");
    expect(error).toBeInstanceOf(KafkaError);
    expect({ refused: (error as KafkaError).refused, retriable: error.retriable }).toEqual(expected);
    expect(error.code).toBe(name);
  });

  test("a record too large is its own class, and a fatal client error refuses nothing in particular", () => {
    const large = asKafkaError(thrown("ERR_MSG_SIZE_TOO_LARGE"), "x");
    expect(large).toBeInstanceOf(RecordTooLargeError);
    expect(large.code).toBe("ERR_MSG_SIZE_TOO_LARGE");
    const fatal = asKafkaError(thrown("ERR_INVALID_RECORD", true), "x") as KafkaError;
    expect({ refused: fatal.refused, retriable: fatal.retriable }).toEqual({ refused: undefined, retriable: false });
  });
});
