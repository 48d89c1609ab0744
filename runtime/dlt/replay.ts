import type { Sql } from "postgres";
import { prepareRecord } from "../consume/prepare.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { applyUnit } from "../inbox/unit-of-work.ts";
import type { Logger } from "../log/logger.ts";
import type { OutboxWriter } from "../outbox/writer.ts";
import type { AvroDecoding } from "../registry/handler-avro.ts";
import type { DeadLetter } from "./dead-letter.ts";

export type ReplayOutcome = "applied" | "would-apply" | "already-applied" | "functional-duplicate" | "failed" | "undecodable";

export interface ReplayResult {
  eventId: string | null;
  reason: string;
  outcome: ReplayOutcome;
  detail?: string;
}

/**
 * Puts dead letters back through the handler's unit of work, one transaction each, in the order
 * given. Their "dead-lettered" inbox rows no longer count as seen, so each applies once; a second
 * replay finds it applied. With `dryRun`, every transaction rolls back: a report of what would
 * now succeed.
 */
export async function replayDeadLetters(
  letters: DeadLetter[],
  deps: {
    sql: Sql;
    handler: LoadedHandler;
    settings: { eventIdHeader: string; missingEventId: "dead-letter" | "derive" };
    log: Logger;
    dryRun: boolean;
    /** The handler's consumer group: what its published events' ids derive from (outbox/event-id.ts). */
    groupId: string;
    /** Where the handler's `ctx.publish` writes. */
    outbox?: OutboxWriter;
    /** For Avro handlers: the same decoding the worker uses (writer schemas from the registry). */
    avro?: AvroDecoding;
    onResult?(result: ReplayResult): void;
  },
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const signal = new AbortController().signal;
  // A registry outage is no verdict on the events: let it surface rather than call them undecodable.
  await deps.avro?.warm(letters.map((l) => l.original));
  for (const letter of letters) {
    const base = { eventId: letter.eventId, reason: letter.reason };
    const prepared = prepareRecord(letter.original, {
      ...deps.settings,
      format: deps.handler.format,
      ...(deps.avro ? { avro: deps.avro.decode } : {}),
    });
    let result: ReplayResult;
    if (prepared.kind === "rejected") {
      result = { ...base, outcome: "undecodable", detail: prepared.message };
    } else {
      const unit = await applyUnit([{ meta: prepared.meta, value: prepared.value }], null, {
        sql: deps.sql,
        handler: deps.handler,
        groupId: deps.groupId,
        ...(deps.outbox ? { outbox: deps.outbox } : {}),
        log: deps.log,
        attempt: 1,
        signal,
        reopenDeadLettered: true,
        dryRun: deps.dryRun,
      });
      if (!unit.ok) {
        result = { ...base, outcome: "failed", detail: unit.failure.error.message };
      } else {
        const r = unit.results[0]!;
        if (r.kind === "applied") result = { ...base, outcome: deps.dryRun ? "would-apply" : "applied" };
        else if (r.kind === "technical-duplicate") result = { ...base, outcome: "already-applied" };
        else if (r.kind === "functional-duplicate")
          result = { ...base, outcome: "functional-duplicate", detail: `business key ${r.businessKey} is held by ${r.heldBy}` };
        else result = { ...base, outcome: "failed", detail: r.error.message };
      }
    }
    deps.log.info("dead-letter:replayed", { eventId: result.eventId, outcome: result.outcome, dryRun: deps.dryRun });
    deps.onResult?.(result);
    results.push(result);
  }
  return results;
}
