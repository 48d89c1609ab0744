/**
 * The outbox relay: sends the events handlers published, once their transactions committed, with
 * the idempotent acks=all producer, then marks them sent. One relay sends at a time across
 * replicas (a session advisory lock on the relay's own connection), in id order, so events of one
 * (topic, key) keep the order they were written in. It wakes when a unit of work in this process
 * commits a publish (and on PostgreSQL NOTIFY from other replicas), and polls as a fallback.
 *
 * Sends are pipelined: the next rows are read and handed to the producer while earlier sends wait
 * for Kafka's acknowledgement (up to `ROUNDS_IN_FLIGHT` reads' worth of rows); acknowledged rows are
 * marked sent in coalesced statements (marks.ts). The producer keeps the order of its produce calls
 * per partition (idempotence), so the order holds; a failed send stops the pipeline, and its rows go
 * out again, after later ones that had succeeded (the documented exception).
 *
 * A relay holding the turn must move: while sends or marks are outstanding and none settled for
 * `stallMs`, it stops speaking on the turn's session (PostgreSQL ends it after the idle time, and
 * another relay takes over), and a send Kafka never answers is given up after `unansweredMs`.
 *
 * A read's rows go out in one producer call per topic, so a refusal names its topic. The failure
 * policy judges each failed send once the pipeline drained (send-failures.ts): a record Kafka
 * refuses for what it is is set aside (refusals.ts), a topic Kafka refuses is held (topic-holds.ts)
 * while the other topics' rows go on, and anything else (the broker, the database) stops the relay
 * until it is over.
 *
 * Crash anywhere: a row committed and not sent is sent by the next relay; a row sent and not yet
 * marked is sent again, with the same event id (a technical duplicate downstream, never a new event).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ReservedSql, Sql } from "postgres";
import { translateDatabaseError } from "../db/errors.ts";
import { deleteSent, markSent, OUTBOX_CHANNEL, type OutboxBacklog, outboxBacklog, readUnsentSlots, type UnsentRow } from "../db/sql/outbox.ts";
import type { EngineEvents } from "../engine-events.ts";
import { coerceError, KafkaError } from "../errors.ts";
import { waitDelay } from "../failure/policy.ts";
import type { FaultInjector } from "../faults/inject.ts";
import { asKafkaError } from "../kafka/errors.ts";
import type { ProducerPort } from "../kafka/port.ts";
import type { Logger } from "../log/logger.ts";
import { finishedWithin } from "../finished-within.ts";
import { describeSend, toRecord } from "./refusals.ts";
import { type FailedSend, reportWaiting, settleFailedSends } from "./send-failures.ts";
import { createCommittedRows } from "./committed-rows.ts";
import { createMarkQueue } from "./marks.ts";
import { createTopicHolds } from "./topic-holds.ts";
import { createRelayTurn } from "./turn.ts";

/** How long a relay waits when another replica holds the turn before it asks again. */
const TURN_TAKEN_BACKOFF_MS = 100;
/** How long an idle relay keeps the turn (and its connection) for the next commit. */
const TURN_LINGER_MS = 1_000;
/** Rows handed to the producer and not yet acknowledged: at most this many reads' worth (`batchSize` each). */
const ROUNDS_IN_FLIGHT = 4;
/** And at most this many producer calls: under a trickle each commit's few rows are a send of their own. */
const SENDS_IN_FLIGHT = 64;
/** Committed rows kept to be sent from memory (committed-rows.ts); past this, rows are read back. */
const COMMITTED_ROWS_BYTES = 32 * 1024 * 1024;

export interface RelayTiming {
  /** Sends or marks outstanding and none settled for this long: the relay stops keeping its turn alive. */
  stallMs: number;
  /** A send Kafka has not answered after this long counts as failed (librdkafka's own message timeout is 300 s). */
  unansweredMs: number;
}

const defaultTiming = (turnIdleMs: number): RelayTiming => ({ stallMs: Math.max(10_000, 2 * turnIdleMs), unansweredMs: 330_000 });

export interface RelaySettings {
  /** Rows per read and per send; up to `SENDS_IN_FLIGHT` sends are under way at once. */
  batchSize: number;
  /** How often an idle relay looks anyway: a missed wake-up (another replica's commit without NOTIFY) waits at most this long. */
  pollIntervalMs: number;
  /** The turn's session ends when it sends no statement for this long (see takeRelayTurn). */
  turnIdleMs: number;
  /** 0: a row Kafka acknowledged is deleted; more: it is marked sent, and pruned after this many hours. */
  retentionHours: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Something committed elsewhere: send now. */
  wake(): void;
  /** This process committed these rows: send them now, as they are. */
  committed(rows: readonly UnsentRow[]): void;
  /** Unsent rows, the age of the oldest and the rows set aside (for metrics, readiness and the admin page). */
  backlog(): Promise<OutboxBacklog>;
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
  timing?: RelayTiming;
}): OutboxRelay {
  const { sql, producer, events, settings, faults } = deps;
  const timing = deps.timing ?? defaultTiming(settings.turnIdleMs);
  const log = deps.log.child({ component: "outbox-relay" });
  let stopped = false;
  let pending = true;
  let nudge: (() => void) | undefined;
  let loop: Promise<void> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  const stopping = new AbortController();
  /** Sends awaiting their acknowledgement, oldest first. */
  const inFlight: Array<Promise<void>> = [];
  let rowsInFlight = 0;
  /** Rows handed to the producer and not yet marked sent: no read may return them again. */
  const sending = new Set<string>();
  /** Failures of sends (one topic's rows each) or their marks (no rows) since the pipeline last drained. */
  const failures: FailedSend[] = [];
  const holds = createTopicHolds();
  const committedRows = createCommittedRows(COMMITTED_ROWS_BYTES);
  const turn = createRelayTurn({
    sql,
    idleMs: settings.turnIdleMs,
    stallMs: timing.stallMs,
    log,
    outstanding: () => (inFlight.length === 0 && marks.idle() ? undefined : { sendsInFlight: inFlight.length, rowsInFlight, marking: !marks.idle() }),
  });
  const progressed = () => turn.progressed();
  const markAcknowledged = (conn: Sql, ids: readonly string[], ackedAtMs: readonly number[]) =>
    settings.retentionHours > 0 ? markSent(conn, ids, ackedAtMs) : deleteSent(conn, ids);

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

  /** Gives the turn up with nothing in flight, so the next relay (here or elsewhere) starts after the last send. */
  const giveUpTurn = async () => {
    await marks.settled();
    await turn.giveUp();
  };

  /** Marks on the turn's connection (the pool's may all be busy with handlers' units of work). */
  const marks = createMarkQueue({
    mark: markAcknowledged,
    marked(ids, markMs) {
      for (const id of ids) sending.delete(id);
      progressed();
      log.debug("outbox:marked", { events: ids.length, markMs });
      // The last mark settled while the loop idles: it looks once more, and gives the turn up if nothing is left.
      if (inFlight.length === 0) nudge?.();
    },
    failed(error, ids) {
      for (const id of ids) sending.delete(id);
      failures.push({ error: coerceError(translateDatabaseError(error)), rows: [] });
      nudge?.();
    },
  });

  const drain = async () => {
    await Promise.allSettled(inFlight);
    await marks.settled();
  };

  /** Kafka acknowledged these rows (handed over at `startedAt`): reported now, marked by the next mark. */
  const reportSent = (rows: UnsentRow[], startedAt: number, ackedAt: number) => {
    log.debug("outbox:sent", {
      events: rows.length,
      // Publish (database clock) → handed to the producer: the commit and the relay's read.
      queuedMs: Math.max(0, startedAt - rows[0]!.created_ms),
      sendMs: ackedAt - startedAt,
    });
    events.emit("outbox:sent", {
      events: rows.length,
      sendMs: ackedAt - startedAt,
      // From the publish to Kafka's acknowledgement, database and local clocks alike.
      latenciesMs: rows.map((r) => Math.max(0, ackedAt - r.created_ms)),
    });
  };

  /** Rows narrowed down one by one (refusals.ts): marked before the isolation goes on. */
  const acknowledged = async (conn: Sql, rows: UnsentRow[], startedAt: number) => {
    const ackedAt = Date.now();
    faults?.("outbox-sent");
    await markAcknowledged(
      conn,
      rows.map((r) => r.id),
      rows.map(() => ackedAt),
    );
    progressed();
    reportSent(rows, startedAt, ackedAt);
  };

  /** Kafka took rows of this topic: a hold on it ends. */
  const accepted = (topic: string) => {
    const hold = holds.accepted(topic);
    if (hold) log.info("outbox:topic-accepted", { topic, heldMs: Date.now() - hold.since, refusals: hold.outages });
  };

  /** One topic's rows of a read: marked as soon as Kafka took them, whatever becomes of the other topics'. */
  const sendTopic = async (conn: Sql, rows: UnsentRow[], startedAt: number) => {
    const ids = rows.map((r) => r.id);
    try {
      if (!(await finishedWithin(producer.send(rows.map(toRecord)), timing.unansweredMs))) {
        // Left to the producer: should it still deliver them, they are technical duplicates of the re-send.
        throw new KafkaError(`${describeSend(rows)}: Kafka did not answer in ${timing.unansweredMs} ms`, { code: "unanswered", retriable: true });
      }
    } catch (e) {
      for (const id of ids) sending.delete(id);
      failures.push({ error: asKafkaError(e, describeSend(rows)), rows });
      return;
    }
    const ackedAt = Date.now();
    progressed();
    accepted(rows[0]!.topic);
    faults?.("outbox-sent");
    reportSent(rows, startedAt, ackedAt);
    marks.add(conn, ids, ackedAt);
  };

  const send = (conn: ReservedSql, rows: UnsentRow[]) => {
    // The stall clock starts with the first of the outstanding sends, not at the last settled one.
    if (inFlight.length === 0 && marks.idle()) progressed();
    for (const r of rows) sending.add(r.id);
    rowsInFlight += rows.length;
    const startedAt = Date.now();
    // One producer call per topic, started in id order: a topic Kafka refuses fails its own rows only.
    const topics = [...Map.groupBy(rows, (r) => r.topic).values()];
    holds.sending(topics.map((t) => t[0]!.topic));
    const sent = Promise.all(topics.map((t) => sendTopic(conn, t, startedAt)))
      .then(() => undefined)
      .finally(() => {
        rowsInFlight -= rows.length;
        inFlight.splice(inFlight.indexOf(sent), 1);
        if (inFlight.length === 0 && marks.idle()) nudge?.();
      });
    inFlight.push(sent);
  };

  /** One read: how many rows it handed to the producer (0: nothing new to send), or null when it is another replica's turn. */
  const round = async (): Promise<number | null> => {
    const conn = await turn.take();
    if (!conn) return null;
    // A stuck relay reads nothing more: its turn's session falls silent and lapses.
    if (turn.stuck()) return 0;
    // Failed sends are judged first (run): no new read may overtake their rows.
    if (failures.length > 0) return 0;
    const excluded = holds.excluded(Date.now());
    const due = await readUnsentSlots(conn, settings.batchSize, [...sending], excluded);
    if (due.length < settings.batchSize) holds.emptied(excluded, new Set(due.map((r) => r.topic)));
    const rows = await committedRows.inFull(conn, due);
    if (rows.length > 0) send(conn, rows);
    const full = () => inFlight.length >= SENDS_IN_FLIGHT || rowsInFlight >= ROUNDS_IN_FLIGHT * settings.batchSize;
    while (full() && failures.length === 0) await Promise.race(inFlight);
    return rows.length;
  };

  const run = async () => {
    let outages = 0;
    while (!stopped) {
      pending = false;
      let sent: number | null = 0;
      try {
        sent = await round();
      } catch (e) {
        failures.push({ error: coerceError(translateDatabaseError(e)), rows: [] });
      }
      if (failures.length > 0) {
        // Nothing more goes out until every send of this pipeline settled: the rows of a failed one
        // are read again (or narrowed down), and no later read may overtake them further.
        await drain();
        const settling = { conn: turn.current(), producer, log, events, holds, acknowledged, accepted };
        const error = await settleFailedSends(settling, failures.splice(0)).catch((e: unknown) => coerceError(translateDatabaseError(e)));
        if (error === undefined) continue;
        await giveUpTurn();
        if (stopped) return;
        outages++;
        const retryInMs = waitDelay(outages);
        reportWaiting({ log, events }, error, outages, retryInMs);
        await sleep(retryInMs, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      outages = 0;
      if (sent === null) {
        committedRows.clear();
        // Another replica is sending: it picks up these rows too. Trying again at once, on every
        // wake-up (each commit anywhere notifies every relay), was a busy loop of transactions.
        await sleep(TURN_TAKEN_BACKOFF_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      if (sent === settings.batchSize || pending) continue;
      if (inFlight.length === 0 && marks.idle() && turn.current()) {
        // Kept a moment: under a trickle of commits, asking for the turn again at each one was two
        // more round trips before every send. Then it goes back, so a deployment that never
        // publishes holds no connection.
        await idle(TURN_LINGER_MS);
        if (pending || stopped) continue;
        await giveUpTurn();
      }
      // A held topic that comes due is tried again without waiting for the poll.
      await idle(Math.min(settings.pollIntervalMs, holds.nextDueInMs(Date.now()) ?? Number.POSITIVE_INFINITY));
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
    committed(rows) {
      committedRows.add(rows);
      wake();
    },
    backlog: () => outboxBacklog(sql),
    async stop(graceMs = 10_000) {
      stopped = true;
      stopping.abort();
      const settled = (async () => {
        await loop;
        await drain();
        await giveUpTurn();
      })();
      if (!(await finishedWithin(settled, graceMs)))
        log.warn("outbox:stop-abandoned", { graceMs, why: "a send was still in flight; its rows are sent again by the next relay" });
      await unlisten?.().catch(() => undefined);
    },
  };
}
