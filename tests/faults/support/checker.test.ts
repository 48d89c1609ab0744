import { describe, expect, test } from "bun:test";
import { check, keyOrderViolations, offsetsAhead, type DeadLetterSeen, type Produced } from "./checker.ts";

const ok = (eventId: string, partition: number, offset: number, businessKey?: string): Produced => ({
  eventId,
  intent: businessKey === undefined ? { kind: "apply" } : { kind: "apply", businessKey },
  ack: { partition, offset: String(offset) },
});
const poison = (eventId: string | null, partition: number, offset: number, reason: string, messagePrefix?: string): Produced => ({
  eventId,
  intent: { kind: "dead-letter", reason, ...(messagePrefix ? { messagePrefix } : {}) },
  ack: { partition, offset: String(offset) },
});
const letter = (reason: string, eventId: string | null, partition: number, offset: number, errorMessage?: string): DeadLetterSeen => ({
  reason,
  eventId,
  sourcePartition: partition,
  sourceOffset: String(offset),
  ...(errorMessage ? { errorMessage } : {}),
});
const rows = (...ids: string[]) => ids.map((eventId) => ({ eventId }));

describe("check", () => {
  test("every acknowledged event applied once and every poison dead-lettered as expected is ok", () => {
    const report = check(
      [ok("a", 0, 0), ok("b", 0, 1), ok("a", 0, 2), poison(null, 1, 0, "missing-event-id"), poison("x", 1, 1, "decode-failed", "invalid-json")],
      rows("a", "b"),
      [letter("missing-event-id", null, 1, 0), letter("decode-failed", "x", 1, 1, "invalid-json: the value is not valid JSON")],
    );
    expect(report).toMatchObject({ ok: true, acknowledged: 5, applied: 2, duplicates: 0, missing: 0, expected: { applied: 2 } });
    expect(report.deadLettered).toEqual({ "missing-event-id": 1, "decode-failed": 1 });
  });

  test.each([
    ["an event applied twice", rows("a", "b", "a"), [], { duplicates: 1 }],
    ["an acknowledged event never applied", rows("a"), [], { missing: 1 }],
    ["an event applied that was never produced", rows("a", "b", "zzz"), [], { unexpected: 1 }],
    ["a good event dead-lettered", rows("a"), [letter("exhausted", "b", 0, 1)], { missing: 1, deadLetterUnexpected: 1 }],
  ] as const)("%s is not ok", (_label, applied, letters, counts) => {
    const report = check([ok("a", 0, 0), ok("b", 0, 1)], applied, letters);
    expect(report.ok).toBe(false);
    expect(report).toMatchObject(counts);
  });

  test("a second event for a business key in the same partition must be a functional duplicate", () => {
    const produced = [ok("a", 0, 0, "order-1"), ok("b", 0, 1, "order-1")];
    expect(check(produced, rows("a"), [letter("functional-duplicate", "b", 0, 1)]).ok).toBe(true);
    expect(check(produced, rows("b"), [letter("functional-duplicate", "a", 0, 0)])).toMatchObject({ ok: false, missing: 1, unexpected: 1 });
    expect(check(produced, rows("a"), [])).toMatchObject({ ok: false, deadLetterMissing: 1 });
  });

  test("across partitions either event may hold the business key, but only one", () => {
    const produced = [ok("a", 0, 0, "order-1"), ok("b", 1, 0, "order-1")];
    expect(check(produced, rows("b"), [letter("functional-duplicate", "a", 0, 0)]).ok).toBe(true);
    expect(check(produced, rows("a", "b"), [])).toMatchObject({ ok: false, unexpected: 1 });
  });

  test("a dead letter with the wrong reason or message is reported", () => {
    const report = check([poison("x", 0, 0, "decode-failed", "invalid-utf8")], [], [letter("decode-failed", "x", 0, 0, "invalid-json: nope")]);
    expect(report.ok).toBe(false);
    expect(report.deadLetterWrong).toEqual(['0:0: expected decode-failed "invalid-utf8…", got decode-failed "invalid-json: nope"']);
  });

  test("unacknowledged records may be applied once, and repeated dead letters are counted, not failed", () => {
    const produced: Produced[] = [ok("a", 0, 0), { eventId: "lost", intent: { kind: "apply" }, error: "ERR__MSG_TIMED_OUT" }, poison("p", 0, 1, "permanent")];
    const report = check(produced, rows("a", "lost"), [letter("permanent", "p", 0, 1), letter("permanent", "p", 0, 1)]);
    expect(report).toMatchObject({ ok: true, unacknowledged: 1, unacknowledgedApplied: 1, deadLetterRepeats: 1 });
    expect(check(produced, rows("a", "lost", "lost"), [letter("permanent", "p", 0, 1)])).toMatchObject({ ok: false, duplicates: 1 });
  });
});

describe("offsetsAhead", () => {
  const produced = [ok("a", 0, 0), ok("b", 0, 1), ok("c", 1, 0)];
  test.each([
    [
      "consistent",
      new Map([[0, 2n]]),
      new Map([
        [0, 2n],
        [1, 0n],
      ]),
      ["a", "b"],
      { kafkaAheadOfPostgres: 0, offsetAheadOfEffects: 0 },
    ],
    [
      "Kafka ahead of PostgreSQL",
      new Map([
        [0, 2n],
        [1, 1n],
      ]),
      new Map([
        [0, 2n],
        [1, 0n],
      ]),
      ["a", "b"],
      { kafkaAheadOfPostgres: 1, offsetAheadOfEffects: 0 },
    ],
    ["PostgreSQL's offset past a missing effect", new Map([[0, 0n]]), new Map([[0, 2n]]), ["a"], { kafkaAheadOfPostgres: 0, offsetAheadOfEffects: 1 }],
  ] as const)("%s", (_label, kafkaCommitted, postgresNext, applied, expected) => {
    expect(offsetsAhead(produced, { kafkaCommitted, postgresNext, applied: new Set(applied) })).toEqual(expected);
  });
});

describe("keyOrderViolations", () => {
  test("each key's sequence numbers strictly increasing, keys interleaved, is in order", () => {
    expect(
      keyOrderViolations([
        { key: "a", seq: 1 },
        { key: "b", seq: 0 },
        { key: "a", seq: 5 },
        { key: null, seq: 2 },
        { key: "b", seq: 3 },
      ]),
    ).toEqual([]);
  });

  test("a key's event applied after a later one, or twice, is a violation", () => {
    expect(
      keyOrderViolations([
        { key: "a", seq: 4 },
        { key: "b", seq: 1 },
        { key: "a", seq: 3 },
        { key: "b", seq: 1 },
      ]),
    ).toEqual(["key a: seq 3 applied after 4", "key b: seq 1 applied after 1"]);
  });
});
