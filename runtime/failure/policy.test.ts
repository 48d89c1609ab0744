import { describe, expect, test } from "bun:test";
import { asDatabaseError } from "../db/errors.ts";
import {
  BusinessKeyError,
  DecodeError,
  HandlerTimeoutError,
  InfrastructureError,
  KafkaError,
  PermanentError,
  RecordTooLargeError,
  RegistryUnavailableError,
} from "../errors.ts";
import { backoffDelay, contentionDelay, decide, type FailureSource, judge, waitDelay } from "./policy.ts";

/** What postgres.js throws: an Error with the SQLSTATE as `code`. */
const pg = (code: string, message = `postgres says ${code}`) => asDatabaseError(Object.assign(new Error(message), { code }))!;
const retry = { attempts: 3, backoffMs: 100, maxBackoffMs: 1_000 };
const one = { events: 1, culpritKnown: true, attempt: 1, contended: 0 };
const half = () => 0.5;
const refusedRecord = { fault: "event", final: true, reason: "refused-by-kafka" } as const;

describe("judge: whose fault a failure is", () => {
  test.each<[string, Error, FailureSource, ReturnType<typeof judge>]>([
    ["connection refused", pg("ECONNREFUSED"), "handler", { fault: "environment" }],
    ["connection failure 08006", pg("08006"), "claim", { fault: "environment" }],
    ["disk full 53100", pg("53100"), "ferry", { fault: "environment" }],
    ["admin shutdown 57P01", pg("57P01"), "handler", { fault: "environment" }],
    ["internal error XX000", pg("XX000"), "handler", { fault: "environment" }],
    ["undefined table 42P01 in the handler (its attempts, then the probes tell)", pg("42P01"), "handler", { fault: "event", final: false }],
    ["undefined table 42P01 in Ferry's statement (a deploy problem)", pg("42P01"), "claim", { fault: "environment" }],
    ["permission denied 42501 in Ferry's statement", pg("42501"), "ferry", { fault: "environment" }],
    ["deadlock 40P01 in the handler", pg("40P01"), "handler", { fault: "contention" }],
    ["serialization failure 40001", pg("40001"), "ferry", { fault: "contention" }],
    ["lock not available 55P03", pg("55P03"), "handler", { fault: "contention" }],
    ["statement timeout 57014 in the handler", pg("57014"), "handler", { fault: "event", final: false }],
    ["statement timeout 57014 in the claim (a lock held from outside)", pg("57014"), "claim", { fault: "environment" }],
    ["U+0000 in the claim 22021", pg("22021"), "claim", { fault: "event", final: true, reason: "unstorable-business-key" }],
    ["index row too large in the claim 54000", pg("54000"), "claim", { fault: "event", final: true, reason: "unstorable-business-key" }],
    ["bad input syntax in the handler 22P02", pg("22P02"), "handler", { fault: "event", final: true, reason: "rejected-by-database" }],
    ["numeric out of range in the handler 22003", pg("22003"), "handler", { fault: "event", final: true, reason: "rejected-by-database" }],
    ["data exception in COMMIT", pg("22001"), "ferry", { fault: "event", final: true, reason: "rejected-by-database" }],
    ["unique violation in the handler 23505", pg("23505"), "handler", { fault: "event", final: false }],
    ["foreign key violation in the handler 23503", pg("23503"), "handler", { fault: "event", final: false }],
    ["unique violation in Ferry's statement", pg("23505"), "ferry", { fault: "environment" }],
    ["aborted transaction 25P02 in the handler", pg("25P02"), "handler", { fault: "event", final: false }],
    ["decode failure", new DecodeError("invalid-utf8", "bad bytes"), "handler", { fault: "event", final: true, reason: "decode-failed" }],
    [
      "business key PostgreSQL cannot store",
      new BusinessKeyError("unstorable-business-key", "U+0000"),
      "claim",
      { fault: "event", final: true, reason: "unstorable-business-key" },
    ],
    ["ctx.permanent", new PermanentError("never"), "handler", { fault: "event", final: true, reason: "permanent" }],
    ["handler timeout", new HandlerTimeoutError("slow"), "handler", { fault: "event", final: false }],
    ["a handler's own TypeError", new TypeError("x is undefined"), "handler", { fault: "event", final: false }],
    ["Ferry's own bug", new TypeError("x is undefined"), "ferry", { fault: "environment" }],
    ["dead letter refused by Kafka", new KafkaError("no", { code: "ERR__MSG_TIMED_OUT", retriable: true }), "dead-letter", { fault: "environment" }],
    ["dead letter too large even without its value", new RecordTooLargeError("too large"), "dead-letter", { fault: "environment" }],
    ["registry down", new RegistryUnavailableError("down"), "registry", { fault: "environment" }],
    ["infrastructure", new InfrastructureError("down"), "ferry", { fault: "environment" }],
    ["the relay's record over its topic's max.message.bytes", new RecordTooLargeError("too large"), "relay", refusedRecord],
    ["the relay's record refused as invalid", new KafkaError("no", { code: "ERR_INVALID_RECORD", refused: "record" }), "relay", refusedRecord],
    [
      "the relay's topic missing",
      new KafkaError("no", { code: "ERR_UNKNOWN_TOPIC_OR_PART", retriable: true, refused: "topic" }),
      "relay",
      { fault: "destination" },
    ],
    ["the relay's topic not writable", new KafkaError("no", { code: "ERR_TOPIC_AUTHORIZATION_FAILED", refused: "topic" }), "relay", { fault: "destination" }],
    ["the relay's broker timing out", new KafkaError("no", { code: "ERR__MSG_TIMED_OUT", retriable: true }), "relay", { fault: "environment" }],
    [
      "the relay's cluster not writable (every topic alike)",
      new KafkaError("no", { code: "ERR_CLUSTER_AUTHORIZATION_FAILED" }),
      "relay",
      { fault: "environment" },
    ],
    ["the relay's mark refused by the database", pg("08006"), "relay", { fault: "environment" }],
    [
      "a dead letter's topic missing waits (its event must not be skipped)",
      new KafkaError("no", { code: "ERR_UNKNOWN_TOPIC_OR_PART", refused: "topic" }),
      "dead-letter",
      { fault: "environment" },
    ],
  ])("%s", (_label, error, source, verdict) => {
    expect(judge({ error, source })).toEqual(verdict);
  });

  test("a deadlock wrapped by Drizzle (as its cause) is still contention", () => {
    const wrapped = new Error("Failed query: update accounts ...", { cause: Object.assign(new Error("deadlock detected"), { code: "40P01" }) });
    expect(judge({ error: asDatabaseError(wrapped)!, source: "handler" })).toEqual({ fault: "contention" });
  });
});

describe("decide: what happens next", () => {
  test("the relay narrows a refused record down among the rows of its send, sets it aside alone, and holds a refused topic", () => {
    const relay = (error: Error, events: number) => decide({ error, source: "relay" }, { events, culpritKnown: false, attempt: 1, contended: 0 }, retry, half);
    expect(relay(new RecordTooLargeError("too large"), 40)).toEqual({ kind: "bisect" });
    expect(relay(new RecordTooLargeError("too large"), 1)).toEqual({ kind: "dead-letter", reason: "refused-by-kafka" });
    expect(relay(new KafkaError("no", { code: "ERR_TOPIC_AUTHORIZATION_FAILED", refused: "topic" }), 40)).toEqual({ kind: "hold-topic" });
    expect(relay(new KafkaError("no", { code: "ERR__TRANSPORT", retriable: true }), 1)).toEqual({ kind: "wait" });
  });

  test("the environment's fault waits, whatever the scope", () => {
    for (const events of [0, 1, 500]) expect(decide({ error: pg("08006"), source: "ferry" }, { ...one, events }, retry, half)).toEqual({ kind: "wait" });
  });

  test("an event's fault with no event in the transaction (the whole batch fails alike) waits", () => {
    expect(decide({ error: pg("22021"), source: "ferry" }, { ...one, events: 0 }, retry, half)).toEqual({ kind: "wait" });
  });

  test("an event's fault in a transaction of several events is narrowed down first", () => {
    const failure = { error: pg("54000"), source: "claim" as const };
    expect(decide(failure, { ...one, events: 8, culpritKnown: false }, retry, half)).toEqual({ kind: "bisect" });
    expect(decide({ error: new Error("boom"), source: "handler" }, { ...one, events: 8, culpritKnown: true }, retry, half)).toEqual({ kind: "isolate" });
  });

  test("a final failure of one event dead-letters it at once, with its reason", () => {
    expect(decide({ error: pg("22021"), source: "claim" }, one, retry, half)).toEqual({ kind: "dead-letter", reason: "unstorable-business-key" });
    expect(decide({ error: new PermanentError("no"), source: "handler" }, one, retry, half)).toEqual({ kind: "dead-letter", reason: "permanent" });
  });

  test("a retriable failure of one event spends its attempts, then is exhausted", () => {
    const failure = { error: new Error("flaky"), source: "handler" as const };
    expect(decide(failure, { ...one, attempt: 1 }, retry, half)).toEqual({ kind: "retry", delayMs: 75, spendsAttempt: true });
    expect(decide(failure, { ...one, attempt: 2 }, retry, half)).toEqual({ kind: "retry", delayMs: 150, spendsAttempt: true });
    expect(decide(failure, { ...one, attempt: 3 }, retry, half)).toEqual({ kind: "dead-letter", reason: "exhausted", unlessSystemic: true });
  });

  test("contention never spends an attempt: several events shrink the transaction, one event retries", () => {
    const failure = { error: pg("40P01"), source: "handler" as const };
    expect(decide(failure, { ...one, events: 1000, culpritKnown: true }, retry, half)).toEqual({ kind: "shrink", size: 500, delayMs: 10 });
    // Even past its last attempt: a deadlock is not the event's fault.
    expect(decide(failure, { ...one, attempt: 99 }, retry, half)).toEqual({ kind: "retry", delayMs: 10, spendsAttempt: false });
  });
});

describe("decide with retry topics", () => {
  const topics = { mode: "topics" as const, delaysMs: [1_000, 2_000] };
  const failure = { error: new Error("flaky"), source: "handler" as const };

  test.each<[string, Parameters<typeof decide>[0], number, ReturnType<typeof decide>]>([
    ["the first attempt fails: to stage 1, due after the first delay", failure, 1, { kind: "retry-topic", stage: 1, delayMs: 1_000 }],
    ["stage 1's attempt fails: to stage 2", failure, 2, { kind: "retry-topic", stage: 2, delayMs: 2_000 }],
    [
      "the last stage's attempt fails: dead-lettered, without probes (its neighbours are failed events by selection)",
      failure,
      3,
      { kind: "dead-letter", reason: "retry-topics-exhausted" },
    ],
    [
      "a handler timeout is a failed attempt: to the retry topic",
      { error: new HandlerTimeoutError("slow"), source: "handler" },
      1,
      { kind: "retry-topic", stage: 1, delayMs: 1_000 },
    ],
    [
      "ctx.permanent dead-letters at once, never to a retry topic",
      { error: new PermanentError("no"), source: "handler" },
      1,
      { kind: "dead-letter", reason: "permanent" },
    ],
    [
      "a decode error dead-letters at once",
      { error: new DecodeError("invalid-json", "bad"), source: "handler" },
      2,
      { kind: "dead-letter", reason: "decode-failed" },
    ],
    [
      "a business key PostgreSQL cannot store dead-letters at once",
      { error: pg("22021"), source: "claim" },
      1,
      { kind: "dead-letter", reason: "unstorable-business-key" },
    ],
    ["the database down waits in place: nothing sent", { error: pg("08006"), source: "handler" }, 1, { kind: "wait" }],
    [
      "the broker refusing the retry record waits in place",
      { error: new KafkaError("down", { code: "ERR__TRANSPORT", retriable: true }), source: "retry-topic" },
      1,
      { kind: "wait" },
    ],
    [
      "a retry record Kafka refuses as too large is dead-lettered: no retry can carry it, and waiting would hold the partition for ever",
      { error: new RecordTooLargeError("too large"), source: "retry-topic" },
      2,
      { kind: "dead-letter", reason: "retry-record-too-large" },
    ],
    ["contention retries in place, spending nothing", { error: pg("40P01"), source: "handler" }, 1, { kind: "retry", delayMs: 10, spendsAttempt: false }],
  ])("%s", (_label, f, attempt, decision) => {
    expect(decide(f, { ...one, attempt }, topics, half)).toEqual(decision);
  });

  test("several events are still narrowed down to one before any goes to a retry topic", () => {
    expect(decide(failure, { ...one, events: 8, culpritKnown: false }, topics, half)).toEqual({ kind: "bisect" });
  });
});

describe("delays", () => {
  test("backoff doubles with equal jitter up to its bound", () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, { backoffMs: 100, maxBackoffMs: 500 }, () => 1))).toEqual([100, 200, 400, 500, 500]);
    expect(backoffDelay(1, { backoffMs: 100, maxBackoffMs: 500 }, () => 0)).toBe(50);
  });
  test("contention delays are short, random and bounded by 1.5 s", () => {
    expect(contentionDelay(0, () => 0)).toBe(5);
    expect(contentionDelay(20, () => 1)).toBe(1_500);
  });
  test("the environment's wait doubles from 0.5 s to 30 s", () => {
    expect([1, 2, 3, 7, 8, 50].map(waitDelay)).toEqual([500, 1_000, 2_000, 30_000, 30_000, 30_000]);
  });
});
