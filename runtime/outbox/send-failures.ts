/**
 * What the relay does with its failed sends, once its pipeline drained: each is judged by the
 * failure policy, oldest rows first. Records Kafka refuses for what they are are narrowed down and
 * set aside (refusals.ts), a topic Kafka refuses is held (topic-holds.ts), and anything else (the
 * broker, the database, contention on a mark) is waited out: the relay gives its turn up and tries
 * again after a backoff, and each wait is logged and reported as `outbox:waiting`.
 */
import type { Sql } from "postgres";
import { compareOutboxIds, type UnsentRow } from "../db/sql/outbox.ts";
import type { EngineEvents } from "../engine-events.ts";
import { KafkaError } from "../errors.ts";
import type { ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { isolateRefused, type IsolationStop, judgeSend } from "./refusals.ts";
import type { TopicHolds } from "./topic-holds.ts";

/** A send that failed (one topic's rows), or a mark that failed (no rows). */
export interface FailedSend {
  error: Error;
  rows: UnsentRow[];
}

export interface SettleDeps {
  /** The turn's connection, if the relay still holds it. */
  conn: Sql | undefined;
  producer: ProducerPort;
  log: Logger;
  events: EngineEvents;
  holds: TopicHolds;
  /** Rows narrowed down one by one went out: mark them sent on `conn` and report them. */
  acknowledged(conn: Sql, rows: UnsentRow[], startedAt: number): Promise<void>;
  /** Kafka took rows of this topic: a hold on it ends. */
  accepted(topic: string): void;
}

/**
 * Each failed send as the policy judges it, oldest rows first. Returns the failure to wait out, if
 * any: its rows and those of the failures after it are read again.
 */
export async function settleFailedSends(deps: SettleDeps, failures: FailedSend[]): Promise<Error | undefined> {
  const { conn, producer, log, events, holds } = deps;
  const failed = failures.toSorted((a, b) => compareOutboxIds(a.rows[0]?.id, b.rows[0]?.id));
  try {
    for (const { error, rows } of failed) {
      const decision = judgeSend(error, rows);
      // Anything but a refusal (the broker, the database, contention on a mark) is waited out.
      let stop: IsolationStop | undefined = { kind: "wait", error, rows };
      if (decision.kind === "hold-topic") stop = { kind: decision.kind, error, rows };
      // Narrowed down on the turn's connection (sends only happen with the turn; without it, another relay reads them).
      else if ((decision.kind === "bisect" || decision.kind === "dead-letter") && conn)
        stop = await isolateRefused(
          { conn, producer, log, events, acknowledged: (narrowed, startedAt) => deps.acknowledged(conn, narrowed, startedAt) },
          rows,
          error,
        );
      if (stop?.kind === "wait") return stop.error;
      if (stop?.kind === "hold-topic") holdTopic(deps, stop);
      else deps.accepted(rows[0]!.topic);
    }
    return undefined;
  } finally {
    // Nothing is in flight: a held topic whose probe failed otherwise is due again.
    holds.drained();
  }
}

/** Kafka refuses this topic: its rows wait, the other topics' go on. */
function holdTopic({ log, events, holds }: SettleDeps, { error, rows }: IsolationStop) {
  const topic = rows[0]!.topic;
  const code = (error as KafkaError).code ?? error.name;
  const { outages, dueAt } = holds.refused(topic, code, Date.now());
  const retryInMs = Math.max(0, dueAt - Date.now());
  log.warn("outbox:waiting", {
    topic,
    outages,
    retryInMs,
    errorClass: error.name,
    errorCode: code,
    error: error.message,
    hint: "Kafka refuses this topic: its events wait, in order, while the other topics' go out. Create the topic or grant write on it (ferry topology apply --handlers)",
  });
  events.emit("outbox:waiting", { retryInMs, errorClass: error.name, error: error.message, topic });
}

/** The relay waits out `error` (its `outages`-th in a row) for `retryInMs`, every topic alike. */
export function reportWaiting({ log, events }: { log: Logger; events: EngineEvents }, error: Error, outages: number, retryInMs: number) {
  const code = (error as { code?: unknown }).code;
  log.warn("outbox:waiting", {
    outages,
    retryInMs,
    errorClass: error.name,
    ...(typeof code === "string" ? { errorCode: code } : {}),
    error: error.message,
    ...(error instanceof KafkaError && !error.retriable
      ? { hint: "Kafka refuses every send as it is (credentials, cluster ACLs): the outbox waits until they are fixed" }
      : {}),
  });
  events.emit("outbox:waiting", { retryInMs, errorClass: error.name, error: error.message });
}
