/**
 * The outbox relay: sends the events handlers published, once their transactions committed, with
 * the idempotent acks=all producer, then marks them sent. One relay sends at a time across
 * replicas (a transaction-scoped advisory lock), in id order, so events of one (topic, key) keep
 * the order they were written in. It wakes when a unit of work in this process commits a publish
 * (and on PostgreSQL NOTIFY from other replicas), and polls as a fallback.
 *
 * Crash anywhere: a row committed and not sent is sent by the next relay; a row sent and not yet
 * marked is sent again, with the same event id (a technical duplicate downstream, never a new event).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "postgres";
import { translateDatabaseError } from "../db/errors.ts";
import { markSent, OUTBOX_CHANNEL, outboxBacklog, readUnsent, takeRelayTurn, type UnsentRow } from "../db/sql/outbox.ts";
import type { EngineEvents } from "../engine-events.ts";
import { coerceError, KafkaError, RecordTooLargeError } from "../errors.ts";
import { decide, type Failure, waitDelay } from "../failure/policy.ts";
import type { FaultInjector } from "../faults/inject.ts";
import { asKafkaError } from "../kafka/errors.ts";
import type { OutgoingRecord, ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { finishedWithin } from "../finished-within.ts";

/** How long a relay waits when another replica holds the turn before it asks again. */
const TURN_TAKEN_BACKOFF_MS = 100;

export interface RelaySettings {
  /** Rows per send (and per transaction). */
  batchSize: number;
  /** How often an idle relay looks anyway: a missed wake-up (another replica's commit without NOTIFY) waits at most this long. */
  pollIntervalMs: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Something committed: send now. */
  wake(): void;
  /** Unsent rows and the age of the oldest (for metrics and readiness). */
  backlog(): Promise<{ rows: number; oldestMs: number }>;
  /**
   * Lets the round in flight finish, for at most `graceMs` (a send to a broker that is down waits
   * out the producer's timeout): past it the round is left to roll back when the pool closes, and
   * its rows go out with the next relay, with the same event ids.
   */
  stop(graceMs?: number): Promise<void>;
}

export function createOutboxRelay(deps: {
  sql: Sql;
  producer: ProducerPort;
  log: Logger;
  events: EngineEvents;
  settings: RelaySettings;
  faults?: FaultInjector;
}): OutboxRelay {
  const { sql, producer, events, settings, faults } = deps;
  const log = deps.log.child({ component: "outbox-relay" });
  let stopped = false;
  let pending = true;
  let nudge: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  const stopping = new AbortController();

  const wake = () => {
    pending = true;
    nudge?.();
  };

  /** Waits for a wake-up, the poll interval or the stop, whichever comes first. */
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        nudge = undefined;
        stopping.signal.removeEventListener("abort", done);
        resolve();
      }
      nudge = done;
      stopping.signal.addEventListener("abort", done, { once: true });
    });

  /** One round: returns how many rows it sent (0: nothing to send), or null when it is another replica's turn. */
  const round = () =>
    sql.begin(async (tx) => {
      const roundStarted = Date.now();
      if (!(await takeRelayTurn(tx))) return null;
      const rows = await readUnsent(tx, settings.batchSize);
      if (rows.length === 0) return 0;
      const startedAt = Date.now();
      await producer.send(rows.map(toRecord)).catch((e: unknown) => {
        throw asKafkaError(e, `relaying ${rows.length} outbox event(s)`);
      });
      const ackedAt = Date.now();
      faults?.("outbox-sent");
      await markSent(
        tx,
        rows.map((r) => r.id),
      );
      log.debug("outbox:sent", { events: rows.length, sendMs: ackedAt - startedAt, roundMs: Date.now() - roundStarted });
      events.emit("outbox:sent", {
        events: rows.length,
        sendMs: ackedAt - startedAt,
        // From the row's transaction to Kafka's acknowledgement, database and local clocks alike.
        latenciesMs: rows.map((r) => Math.max(0, ackedAt - r.created_ms)),
      });
      return rows.length;
    });

  const run = async () => {
    let outages = 0;
    while (!stopped) {
      pending = false;
      let sent: number | null;
      try {
        sent = await round();
        outages = 0;
      } catch (e) {
        if (stopped) return;
        // The one failure policy judges it: nothing here is an event's fault, so it says wait.
        const failure: Failure = { error: coerceError(translateDatabaseError(e)), source: "relay" };
        const decision = decide(failure, { events: 0, culpritKnown: false, attempt: 1, contended: 0 }, { attempts: 1, backoffMs: 0, maxBackoffMs: 0 });
        if (decision.kind !== "wait") throw new Error(`the failure policy answered ${decision.kind} for the outbox relay`);
        outages++;
        const retryInMs = waitDelay(outages);
        const { error } = failure;
        const code = (error as { code?: unknown }).code;
        log.warn("outbox:waiting", {
          outages,
          retryInMs,
          errorClass: error.name,
          ...(typeof code === "string" ? { errorCode: code } : {}),
          error: error.message,
          ...(error instanceof RecordTooLargeError || (error instanceof KafkaError && !error.retriable)
            ? { hint: "Kafka refuses these records as they are: the outbox waits until the topic, ACLs or limits are fixed" }
            : {}),
        });
        events.emit("outbox:waiting", { retryInMs, errorClass: error.name, error: error.message });
        await sleep(retryInMs, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      if (sent === null) {
        // Another replica is sending: it picks up these rows too. Trying again at once, on every
        // wake-up (each commit anywhere notifies every relay), was a busy loop of transactions.
        await sleep(TURN_TAKEN_BACKOFF_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      if (sent === settings.batchSize || pending) continue;
      await idle(settings.pollIntervalMs);
    }
  };

  return {
    async start() {
      // Other replicas' commits: a NOTIFY is delivered only once its transaction committed.
      try {
        const listening = await sql.listen(OUTBOX_CHANNEL, wake);
        unlisten = () => listening.unlisten();
      } catch (e) {
        log.warn("outbox:listen-failed", { error: coerceError(e), pollIntervalMs: settings.pollIntervalMs });
      }
      loop = run().catch((e: unknown) => log.error("outbox:relay-failed", { error: coerceError(e) }));
    },
    wake,
    backlog: () => outboxBacklog(sql),
    async stop(graceMs = 10_000) {
      stopped = true;
      stopping.abort();
      if (loop && !(await finishedWithin(loop, graceMs)))
        log.warn("outbox:stop-abandoned", { graceMs, why: "a send was still in flight; its rows are sent again by the next relay" });
      await unlisten?.().catch(() => undefined);
    },
  };
}

function toRecord(row: UnsentRow): OutgoingRecord {
  return { topic: row.topic, key: row.key, value: row.value, headers: row.headers };
}
