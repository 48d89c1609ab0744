/**
 * What the relay does when Kafka refuses a send, as the failure policy judges it (source "relay").
 *
 * A record refused for what it is (larger than its topic's `max.message.bytes`, an invalid record)
 * can never go out, and waiting for it would hold every published event after it, of every topic.
 * It is found among the rows of its send by sending halves again, one after the other in id order
 * (the broker refuses a partition's whole batch: innocent records fail with the guilty one), and
 * set aside alone: its row gets `failed_at` and Kafka's reason, the rows after it go out.
 *
 * A half that went out is marked sent at once. Records of a refused half that Kafka took anyway
 * (another partition's batch) go out again with their smaller half: the same event ids, technical
 * duplicates downstream, as after a crash between the send and the mark.
 */
import type { Sql } from "postgres";
import { markFailed, type UnsentRow } from "../db/sql/outbox.ts";
import type { EngineEvents } from "../engine-events.ts";
import type { KafkaError, RecordTooLargeError } from "../errors.ts";
import { type Decision, decide } from "../failure/policy.ts";
import { asKafkaError } from "../kafka/errors.ts";
import type { OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";

/** The failure policy's word on a send of `rows` that failed with `error`. */
export function judgeSend(error: Error, rows: readonly UnsentRow[]): Decision {
  return decide(
    { error, source: "relay" },
    { events: rows.length, culpritKnown: false, attempt: 1, contended: 0 },
    { attempts: 1, backoffMs: 0, maxBackoffMs: 0 },
  );
}

/** Why the search stopped before it was through: the relay waits (for everything, or for this topic). */
export interface IsolationStop {
  kind: "wait" | "hold-topic";
  error: Error;
  rows: UnsentRow[];
}

export interface IsolationDeps {
  /** The relay's turn: marks go on its connection. */
  conn: Sql;
  producer: ProducerPort;
  log: Logger;
  events: EngineEvents;
  /** Kafka acknowledged these rows: mark them sent and report them. */
  acknowledged(rows: UnsentRow[], startedAt: number): Promise<void>;
}

/**
 * Sends the rows of one topic whose send Kafka refused with a record-specific `error` again, a
 * half at a time, until each refused record is alone, and sets those aside. Database failures
 * throw (the relay waits); a refusal of another kind stops the search and says so.
 */
export async function isolateRefused(deps: IsolationDeps, rows: UnsentRow[], error: Error): Promise<IsolationStop | undefined> {
  const decision = judgeSend(error, rows);
  switch (decision.kind) {
    case "dead-letter":
      await setAside(deps, rows[0]!, error);
      return undefined;
    case "bisect": {
      // In id order, each half through before the next: the rows that go out keep their order.
      const middle = Math.ceil(rows.length / 2);
      for (const half of [rows.slice(0, middle), rows.slice(middle)]) {
        const stop = await sendAgain(deps, half);
        if (stop) return stop;
      }
      return undefined;
    }
    case "wait":
    case "hold-topic":
      return { kind: decision.kind, error, rows };
    default:
      throw new Error(`the failure policy answered ${decision.kind} for the outbox relay`);
  }
}

async function sendAgain(deps: IsolationDeps, rows: UnsentRow[]): Promise<IsolationStop | undefined> {
  const startedAt = Date.now();
  try {
    await deps.producer.send(rows.map(toRecord));
  } catch (e) {
    return isolateRefused(deps, rows, asKafkaError(e, describeSend(rows)));
  }
  await deps.acknowledged(rows, startedAt);
  return undefined;
}

async function setAside({ conn, log, events }: IsolationDeps, row: UnsentRow, error: Error): Promise<void> {
  const code = (error as KafkaError | RecordTooLargeError).code ?? error.name;
  await markFailed(conn, row.id, { code, message: error.message });
  log.warn("outbox:refused", {
    eventId: row.event_id,
    topic: row.topic,
    handler: row.handler,
    errorClass: error.name,
    errorCode: code,
    error: error.message,
    hint: "Kafka refuses this record as it is: it is set aside (ferry_outbox.failed_at) and the events after it go out. Raise the topic's limit or fix what the handler publishes; to send it again, clear its failed_at",
  });
  events.emit("outbox:refused", { eventId: row.event_id, topic: row.topic, handler: row.handler, code, reason: error.message });
}

/** What a send was, for its error's message. */
export const describeSend = (rows: readonly UnsentRow[]) => `relaying ${rows.length} outbox event(s) to ${rows[0]?.topic}`;

export function toRecord(row: UnsentRow): OutgoingRecord {
  return { topic: row.topic, key: row.key, value: row.value, headers: row.headers };
}
