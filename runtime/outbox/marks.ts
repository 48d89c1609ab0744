/**
 * Rows Kafka acknowledged, marked sent in as few statements as the connection allows: one mark
 * runs at a time, and the acknowledgements that arrive meanwhile go into the next one.
 *
 * A send's slot in the relay's pipeline is free at Kafka's acknowledgement, not at its mark: at
 * 1,000 events/s a mark waited 50–150 ms behind reads and other marks on the turn's connection,
 * and the rows of the next commits waited that long for a slot.
 */
import type { Sql } from "postgres";

interface Pending {
  conn: Sql;
  ids: string[];
  ackedAtMs: number[];
}

export interface MarkQueue {
  /** Kafka acknowledged these rows at `ackedAtMs`: marked by the next statement on `conn`. */
  add(conn: Sql, ids: readonly string[], ackedAtMs: number): void;
  /** No mark running or waiting. */
  idle(): boolean;
  /** Resolves once every row added so far is marked, or its mark failed. */
  settled(): Promise<void>;
}

export function createMarkQueue(deps: {
  mark(conn: Sql, ids: readonly string[], ackedAtMs: readonly number[]): Promise<unknown>;
  /** The rows are marked; `markMs`: how long the statement took. */
  marked(ids: readonly string[], markMs: number): void;
  /** The statement failed: these rows are not marked (they go out again, with the same event ids). */
  failed(error: unknown, ids: readonly string[]): void;
}): MarkQueue {
  const waiting: Pending[] = [];
  let running: Promise<void> | undefined;

  const flush = async () => {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      const startedAt = Date.now();
      try {
        await deps.mark(next.conn, next.ids, next.ackedAtMs);
      } catch (e) {
        deps.failed(e, next.ids);
        continue;
      }
      deps.marked(next.ids, Date.now() - startedAt);
    }
    running = undefined;
  };

  return {
    add(conn, ids, ackedAtMs) {
      let pending = waiting.at(-1);
      // A new turn's connection starts a statement of its own (the relay drains before it gives a turn up).
      if (pending?.conn !== conn) {
        pending = { conn, ids: [], ackedAtMs: [] };
        waiting.push(pending);
      }
      for (const id of ids) {
        pending.ids.push(id);
        pending.ackedAtMs.push(ackedAtMs);
      }
      running ??= flush();
    },
    idle: () => running === undefined,
    async settled() {
      while (running) await running;
    },
  };
}
