import { expect, test } from "bun:test";
import type { Sql } from "postgres";
import type { UnsentRow } from "../db/sql/outbox.ts";
import { createCommittedRows } from "./committed-rows.ts";

const row = (id: number, bytes = 100): UnsentRow => ({
  id: String(id),
  event_id: `e${id}`,
  handler: "h",
  topic: "t",
  key: null,
  value: Buffer.alloc(bytes),
  headers: {},
  created_ms: 0,
});

/** A row's place in the send order, as the relay reads it. */
const due = (id: number, eventId = `e${id}`) => ({ id: String(id), event_id: eventId });

/** A connection that answers readRows with the ids asked for, as rows read back, and records them. */
function readingConn() {
  const asked: string[][] = [];
  const conn = (_: TemplateStringsArray, ids: string[]) => {
    asked.push(ids);
    return Promise.resolve(ids.map((id) => ({ ...row(Number(id)), handler: "read back" })));
  };
  return { asked, conn: conn as unknown as Sql };
}

test("rows held are sent from memory; the others are read in one statement, and the order asked for is kept", async () => {
  const rows = createCommittedRows(1_000_000);
  rows.add([row(2), row(4)]);
  const { asked, conn } = readingConn();
  const got = await rows.inFull(
    conn,
    [1, 2, 3, 4].map((id) => due(id)),
  );
  expect(got.map((r) => [r.id, r.handler])).toEqual([
    ["1", "read back"],
    ["2", "h"],
    ["3", "read back"],
    ["4", "h"],
  ]);
  expect(asked).toEqual([["1", "3"]]);
  // Taken: a second send of the same rows (after a failure) reads them back.
  expect(rows.size).toBe(0);
  await rows.inFull(conn, [due(2)]);
  expect(asked.at(-1)).toEqual(["2"]);
});

test("none read when all are held; past the bound the oldest are dropped; clear empties it", async () => {
  // 356 bytes a row as counted (100 of value + 256): three fit in 1,100 bytes.
  const rows = createCommittedRows(1_100);
  rows.add([row(1), row(2)]);
  rows.add([row(3), row(4)]);
  expect(rows.size).toBe(3);
  const { asked, conn } = readingConn();
  expect((await rows.inFull(conn, [due(2), due(3)])).map((r) => r.handler)).toEqual(["h", "h"]);
  expect(asked).toEqual([]);
  // Row 1 was dropped first: read back.
  expect((await rows.inFull(conn, [due(1)])).map((r) => r.handler)).toEqual(["read back"]);
  rows.clear();
  expect(rows.size).toBe(0);
});

test("a held row whose event id is not the one due (the same id naming another row after a failover or a restore) is read, not sent", async () => {
  const rows = createCommittedRows(1_000_000);
  rows.add([row(7)]);
  const { asked, conn } = readingConn();
  const got = await rows.inFull(conn, [due(7, "another row's event id")]);
  expect(got.map((r) => r.handler)).toEqual(["read back"]);
  expect(asked).toEqual([["7"]]);
});
