/**
 * Rows this process committed, kept for the relay to send as they are instead of reading them back
 * from PostgreSQL (a second pass over every byte, on both sides). The relay still reads which rows
 * are due, in order: this only spares it their contents. Bounded: past `maxBytes` the oldest are
 * dropped, and the relay reads those in full like any other replica's.
 */
import type { Sql } from "postgres";
import { readRows, type UnsentRow } from "../db/sql/outbox.ts";

/** What a row is taken to occupy: its key and value, plus its ids, topic and headers at a flat rate. */
const rowBytes = (r: UnsentRow) => (r.key?.length ?? 0) + (r.value?.length ?? 0) + 256;

export interface CommittedRows {
  add(rows: readonly UnsentRow[]): void;
  /**
   * These rows, in this order: taken from here where present with the same event id (a failed
   * send reads them again from PostgreSQL), the rest read on `conn`. An id is trusted only with
   * its event id: after a failover to a replica that had not received the last commits, or a
   * restored backup, the same id can name another row.
   */
  inFull(conn: Sql, due: readonly { id: string; event_id: string }[]): Promise<UnsentRow[]>;
  /** Another replica sends them: nothing here is needed. */
  clear(): void;
  readonly size: number;
}

export function createCommittedRows(maxBytes: number): CommittedRows {
  const rows = new Map<string, UnsentRow>();
  let bytes = 0;
  const remove = (id: string, row: UnsentRow) => {
    rows.delete(id);
    bytes -= rowBytes(row);
  };
  const take = (id: string) => {
    const row = rows.get(id);
    if (row) remove(id, row);
    return row;
  };
  return {
    async inFull(conn, due) {
      const ids = due.map((r) => r.id);
      const found = due.map((slot) => {
        const row = take(slot.id);
        return row?.event_id === slot.event_id ? row : undefined;
      });
      const missing = ids.filter((_, i) => found[i] === undefined);
      const read = new Map(missing.length > 0 ? (await readRows(conn, missing)).map((r) => [r.id, r]) : []);
      return found.map((r, i) => r ?? read.get(ids[i]!)).filter((r) => r !== undefined);
    },
    add(added) {
      for (const r of added) {
        rows.set(r.id, r);
        bytes += rowBytes(r);
      }
      for (const [id, row] of rows) {
        if (bytes <= maxBytes) break;
        remove(id, row);
      }
    },
    clear() {
      rows.clear();
      bytes = 0;
    },
    get size() {
      return rows.size;
    },
  };
}
