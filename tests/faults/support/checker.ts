/**
 * The fault suite's checker: what SHOULD have happened, computed only from what the producer
 * saw acknowledged, compared with what DID happen (the effects table, the dead letter topic).
 * It imports nothing from runtime/: it must not share a bug with the system it judges.
 */

/** What the test asked of one record when producing it. */
export type Intent =
  /** A normal event: applied exactly once (unless its business key was taken first). */
  | { kind: "apply"; businessKey?: string }
  /** Must end in the dead letter topic with this `ferry-reason` (and, optionally, an error-message prefix). */
  | { kind: "dead-letter"; reason: string; messagePrefix?: string };

/** One record the test producer sent, with the broker's answer. */
export interface Produced {
  /** The event-id header as sent; null when the record has none (or an unreadable one). */
  eventId: string | null;
  intent: Intent;
  /** Set once the broker acknowledged the record (acks=all). */
  ack?: { partition: number; offset: string };
  /** Set when producing failed: the record may or may not be in the log. */
  error?: string;
}

/** A row of the effects table: one per application of an event. */
export interface AppliedRow {
  eventId: string;
}

/** A record read from the dead letter topic (its `ferry-*` headers). */
export interface DeadLetterSeen {
  reason: string;
  eventId: string | null;
  sourcePartition: number;
  sourceOffset: string;
  errorMessage?: string;
}

export interface FaultReport {
  /** Records the broker acknowledged; technical duplicates (the same event id again) included. */
  acknowledged: number;
  /** Records whose produce failed: allowed to be applied at most once, or not at all. */
  unacknowledged: number;
  expected: { applied: number; deadLettered: Record<string, number> };
  /** Distinct events with at least one effect row. */
  applied: number;
  /** Effect rows beyond the first per event: MUST be 0. */
  duplicates: number;
  /** Acknowledged events that should have been applied and were not: MUST be 0. */
  missing: number;
  /** Events applied that should not have been (dead-letter intents, functional duplicates, never produced): MUST be 0. */
  unexpected: number;
  /** Distinct source records in the dead letter topic, by reason. */
  deadLettered: Record<string, number>;
  /** Acknowledged records expected in the dead letter topic that are not there: MUST be 0. */
  deadLetterMissing: number;
  /** Dead letters whose reason or message differs from the expectation: MUST be 0. */
  deadLetterWrong: string[];
  /** Dead letters of records that should have been applied: MUST be 0. */
  deadLetterUnexpected: number;
  /** The same source record dead-lettered more than once (allowed: a crash between the dead letter's ack and the commit re-sends it). */
  deadLetterRepeats: number;
  /** Unacknowledged records that were applied anyway (allowed: the broker may have written them). */
  unacknowledgedApplied: number;
  ok: boolean;
}

type Expectation = { kind: "apply" } | { kind: "dead-letter"; reason: string; messagePrefix?: string };

const coordinates = (partition: number, offset: string) => `${partition}:${offset}`;

/**
 * The expected outcome per acknowledged source record. An event id seen again is a technical
 * duplicate (applied once, never dead-lettered). Among distinct events sharing a business key, the
 * first acknowledged one wins and the others are functional duplicates; when they sit in different
 * partitions the order is not defined, so any one of them may win (`contested`).
 */
export function expectOutcomes(produced: readonly Produced[]) {
  const byRecord = new Map<string, Expectation>();
  const mustApply = new Set<string>();
  const contested = new Map<string, Set<string>>();
  const firstById = new Map<string, Produced>();
  const acked = produced.filter((p) => p.ack).sort((a, b) => a.ack!.partition - b.ack!.partition || Number(BigInt(a.ack!.offset) - BigInt(b.ack!.offset)));
  const byKey = new Map<string, Produced[]>();
  for (const p of acked) {
    const at = coordinates(p.ack!.partition, p.ack!.offset);
    if (p.intent.kind === "dead-letter") {
      byRecord.set(at, { kind: "dead-letter", reason: p.intent.reason, ...(p.intent.messagePrefix ? { messagePrefix: p.intent.messagePrefix } : {}) });
      continue;
    }
    byRecord.set(at, { kind: "apply" });
    if (p.eventId === null) throw new Error("an 'apply' intent needs an event id");
    if (firstById.has(p.eventId)) continue; // technical duplicate: nothing more to expect
    firstById.set(p.eventId, p);
    if (p.intent.businessKey === undefined) mustApply.add(p.eventId);
    else byKey.set(p.intent.businessKey, [...(byKey.get(p.intent.businessKey) ?? []), p]);
  }
  for (const [key, events] of byKey) {
    const partitions = new Set(events.map((e) => e.ack!.partition));
    if (events.length === 1) {
      mustApply.add(events[0]!.eventId!);
    } else if (partitions.size === 1) {
      mustApply.add(events[0]!.eventId!);
      for (const loser of events.slice(1))
        byRecord.set(coordinates(loser.ack!.partition, loser.ack!.offset), { kind: "dead-letter", reason: "functional-duplicate" });
    } else {
      contested.set(key, new Set(events.map((e) => e.eventId!)));
    }
  }
  const recordOf = new Map([...firstById].map(([id, p]) => [id, coordinates(p.ack!.partition, p.ack!.offset)]));
  return { byRecord, mustApply, contested, recordOf };
}

/** Compares what was acknowledged with what happened. Pure. */
export function check(produced: readonly Produced[], applied: readonly AppliedRow[], deadLetters: readonly DeadLetterSeen[]): FaultReport {
  const { byRecord, mustApply, contested, recordOf } = expectOutcomes(produced);
  const ackedIds = new Set(produced.filter((p) => p.ack && p.eventId !== null).map((p) => p.eventId!));
  const rowsById = new Map<string, number>();
  for (const row of applied) rowsById.set(row.eventId, (rowsById.get(row.eventId) ?? 0) + 1);

  const contestedIds = new Map<string, string>();
  for (const [key, ids] of contested) for (const id of ids) contestedIds.set(id, key);
  const contestedWinners = new Map<string, string[]>();
  let duplicates = 0;
  let unexpected = 0;
  let unacknowledgedApplied = 0;
  for (const [id, rows] of rowsById) {
    duplicates += rows - 1;
    if (mustApply.has(id)) continue;
    const key = contestedIds.get(id);
    if (key !== undefined) contestedWinners.set(key, [...(contestedWinners.get(key) ?? []), id]);
    else if (!ackedIds.has(id) && produced.some((p) => p.eventId === id)) unacknowledgedApplied++;
    else unexpected++;
  }
  let missing = [...mustApply].filter((id) => !rowsById.has(id)).length;
  for (const [key, ids] of contested) {
    const winners = contestedWinners.get(key) ?? [];
    if (winners.length === 0) missing++;
    unexpected += Math.max(0, winners.length - 1);
    // Whichever won, the others are functional duplicates.
    for (const id of ids) if (id !== winners[0]) byRecord.set(recordOf.get(id)!, { kind: "dead-letter", reason: "functional-duplicate" });
  }

  const seen = new Map<string, DeadLetterSeen[]>();
  for (const letter of deadLetters) {
    const at = coordinates(letter.sourcePartition, letter.sourceOffset);
    seen.set(at, [...(seen.get(at) ?? []), letter]);
  }
  const deadLettered: Record<string, number> = {};
  const expectedDeadLetters: Record<string, number> = {};
  const deadLetterWrong: string[] = [];
  let deadLetterMissing = 0;
  let deadLetterUnexpected = 0;
  let deadLetterRepeats = 0;
  for (const [at, letters] of seen) {
    const reason = letters[0]!.reason;
    deadLettered[reason] = (deadLettered[reason] ?? 0) + 1;
    deadLetterRepeats += letters.length - 1;
    if (byRecord.get(at)?.kind === "apply") deadLetterUnexpected++;
  }
  for (const [at, expected] of byRecord) {
    if (expected.kind !== "dead-letter") continue;
    expectedDeadLetters[expected.reason] = (expectedDeadLetters[expected.reason] ?? 0) + 1;
    const letters = seen.get(at);
    if (!letters) {
      deadLetterMissing++;
      continue;
    }
    for (const letter of letters) {
      if (letter.reason !== expected.reason || (expected.messagePrefix && !letter.errorMessage?.startsWith(expected.messagePrefix))) {
        deadLetterWrong.push(
          `${at}: expected ${expected.reason}${expected.messagePrefix ? ` "${expected.messagePrefix}…"` : ""}, got ${letter.reason} "${letter.errorMessage ?? ""}"`,
        );
      }
    }
  }

  const report: Omit<FaultReport, "ok"> = {
    acknowledged: produced.filter((p) => p.ack).length,
    unacknowledged: produced.filter((p) => !p.ack).length,
    expected: { applied: mustApply.size + contested.size, deadLettered: expectedDeadLetters },
    applied: rowsById.size,
    duplicates,
    missing,
    unexpected,
    deadLettered,
    deadLetterMissing,
    deadLetterWrong,
    deadLetterUnexpected,
    deadLetterRepeats,
    unacknowledgedApplied,
  };
  return {
    ...report,
    ok: duplicates === 0 && missing === 0 && unexpected === 0 && deadLetterMissing === 0 && deadLetterWrong.length === 0 && deadLetterUnexpected === 0,
  };
}

/**
 * One moment of a run: Kafka's committed offsets (read first), then, in ONE PostgreSQL
 * snapshot, Ferry's next offset per partition and the events whose effects exist.
 */
export interface OffsetSnapshot {
  kafkaCommitted: ReadonlyMap<number, bigint>;
  postgresNext: ReadonlyMap<number, bigint>;
  applied: ReadonlySet<string>;
}

/**
 * "Offsets never ahead of effects", checked on a snapshot taken while faults happen: Kafka's
 * committed offset never passes PostgreSQL's (Kafka is committed after PostgreSQL, and read
 * first here), and every event that must apply and sits below PostgreSQL's offset has its
 * effect in the same snapshot. Returns the number of partitions and events that break it.
 */
export function offsetsAhead(produced: readonly Produced[], snapshot: OffsetSnapshot): { kafkaAheadOfPostgres: number; offsetAheadOfEffects: number } {
  const { mustApply, recordOf } = expectOutcomes(produced);
  let kafkaAheadOfPostgres = 0;
  for (const [partition, committed] of snapshot.kafkaCommitted) {
    if (committed > (snapshot.postgresNext.get(partition) ?? 0n)) kafkaAheadOfPostgres++;
  }
  let offsetAheadOfEffects = 0;
  for (const id of mustApply) {
    const [partition, offset] = recordOf.get(id)!.split(":");
    if (BigInt(offset!) < (snapshot.postgresNext.get(Number(partition)) ?? 0n) && !snapshot.applied.has(id)) offsetAheadOfEffects++;
  }
  return { kafkaAheadOfPostgres, offsetAheadOfEffects };
}

/** An effect row as written, in write order: the event's Kafka key and the sequence number it carried. */
export interface KeyedRow {
  key: string | null;
  seq: number;
}

/**
 * Per-key order under key-level concurrency: one key's events must be applied strictly in the
 * order they were produced, so each key's sequence numbers, in write order, strictly increase.
 * Returns every row that breaks it (empty when the order holds).
 */
export function keyOrderViolations(rows: readonly KeyedRow[]): string[] {
  const last = new Map<string | null, number>();
  const violations: string[] = [];
  for (const row of rows) {
    const before = last.get(row.key);
    if (before !== undefined && row.seq <= before) violations.push(`key ${row.key}: seq ${row.seq} applied after ${before}`);
    last.set(row.key, row.seq);
  }
  return violations;
}
