/**
 * The relay's turn, as this replica holds it: the session advisory lock (takeRelayTurn) on a
 * connection reserved for it. While the relay moves, a heartbeat speaks on the session so that
 * PostgreSQL does not take it for a silent one (a relay waits on Kafka: a missing topic is reported
 * after 5 s, a broker outage lasts longer). A relay with work outstanding and nothing settled for
 * `stallMs` stops speaking: its session ends after the idle time, and another relay takes over.
 */
import type { ReservedSql, Sql } from "postgres";
import { giveUpRelayTurn, takeRelayTurn } from "../db/sql/outbox.ts";
import { keepSessionTalking } from "../db/sql/session.ts";
import { coerceError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

export interface RelayTurn {
  /** The turn's connection: taken now if no relay holds it, undefined while another does. */
  take(): Promise<ReservedSql | undefined>;
  /** The turn's connection while this relay holds it. */
  current(): ReservedSql | undefined;
  /** A send or a mark settled, or the first of them started. */
  progressed(): void;
  /** Work outstanding and nothing settled for `stallMs` (reported once): the relay says nothing more on the turn's session. */
  stuck(): boolean;
  /** Unlocks and returns the connection (a broken one holds no lock: it is gone). */
  giveUp(): Promise<void>;
}

export function createRelayTurn(deps: {
  sql: Sql;
  /** The turn's session ends after this long without a statement (idle_session_timeout). */
  idleMs: number;
  stallMs: number;
  log: Logger;
  /** What the relay is waiting for (for the log), or undefined when it waits for nothing. */
  outstanding(): Record<string, unknown> | undefined;
}): RelayTurn {
  const { sql, idleMs, stallMs, log } = deps;
  let conn: ReservedSql | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let progressAt = Date.now();
  let stallReported = false;
  const every = idleMs / 3;
  /** When the relay last looked (the heartbeat looks every third of the idle time): far longer ago, this process did not run. */
  let tickAt = Date.now();

  /** Work outstanding and nothing settled for `stallMs`: reported once, and the turn left to lapse. */
  const stuck = (): boolean => {
    // Time this process did not run is not time the relay waited for Kafka (acknowledgements that
    // came meanwhile are about to be read).
    const sinceTick = Date.now() - tickAt;
    if (sinceTick > 3 * every) progressAt = Math.min(Date.now(), progressAt + sinceTick - every);
    tickAt = Date.now();
    const waitingMs = Date.now() - progressAt;
    const waitingFor = waitingMs < stallMs ? undefined : deps.outstanding();
    if (!waitingFor) return false;
    if (!stallReported) {
      stallReported = true;
      log.error("outbox:stalled", {
        waitingMs,
        ...waitingFor,
        why: "nothing the relay sent or marked settled for this long: it stops keeping its turn, so that another relay sends (another replica, or this one once it gave up)",
      });
    }
    return true;
  };

  const turn: RelayTurn = {
    async take() {
      if (conn) return conn;
      const reserved = await sql.reserve();
      try {
        if (await takeRelayTurn(reserved, idleMs)) {
          turn.progressed();
          tickAt = Date.now();
          heartbeat = setInterval(() => {
            if (!stuck()) void keepSessionTalking(reserved).catch(() => undefined);
          }, every);
          heartbeat.unref?.();
          return (conn = reserved);
        }
      } catch (e) {
        reserved.release();
        throw e;
      }
      reserved.release();
      return undefined;
    },
    current: () => conn,
    stuck,
    progressed() {
      progressAt = Date.now();
      stallReported = false;
    },
    async giveUp() {
      const held = conn;
      conn = undefined;
      clearInterval(heartbeat);
      if (!held) return;
      await giveUpRelayTurn(held).catch((e: unknown) => log.debug("outbox:unlock-failed", { error: coerceError(e) }));
      held.release();
    },
  };
  return turn;
}
