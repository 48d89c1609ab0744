import { expect, test } from "bun:test";
import postgres from "postgres";
import { DatabaseError } from "../errors.ts";
import { asDatabaseError, categoryOf } from "./errors.ts";

test.each([
  ["08006", "connection"],
  ["CONNECTION_CLOSED", "connection"],
  ["ECONNREFUSED", "connection"],
  ["53200", "resources"],
  ["57P01", "unavailable"],
  ["57014", "canceled"],
  ["58030", "system"],
  ["XX000", "system"],
  ["40001", "contention"],
  ["40P01", "contention"],
  ["55P03", "contention"],
  ["22021", "data"],
  ["54000", "limit"],
  ["23505", "integrity"],
  ["42P01", "program"],
  ["3D000", "program"],
  ["28P01", "program"],
  ["25P02", "transaction"],
  ["25P03", "connection"],
  ["P0001", "other"],
])("SQLSTATE %s is %s", (code, category) => {
  expect(categoryOf(code)).toBe(category as never);
});

test("a handler's own error is not a database error", () => {
  expect(asDatabaseError(new TypeError("nope"))).toBeNull();
  expect(asDatabaseError(Object.assign(new Error("x"), { code: "ERR_SOMETHING_ELSE" }))).toBeNull();
});

test("PostgreSQL's real refusals translate with their SQLSTATE, message and retriability", async () => {
  const sql = postgres(process.env.FERRY_TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
  try {
    const nul = await sql`select ${"a\u0000b"}::text`.catch((e: unknown) => asDatabaseError(e));
    expect(nul).toBeInstanceOf(DatabaseError);
    expect(nul).toMatchObject({ code: "22021", category: "data", retriable: false });
    expect((nul as Error).message).toContain("[SQLSTATE 22021]");
    const missing = await sql`select * from ferry_no_such_table`.catch((e: unknown) => asDatabaseError(e));
    expect(missing).toMatchObject({ code: "42P01", category: "program", retriable: true });
  } finally {
    await sql.end();
  }
});

test("a refused connection translates as the environment's", async () => {
  const sql = postgres("postgres://postgres@127.0.0.1:1/none", { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    const error = await sql`select 1`.catch((e: unknown) => asDatabaseError(e));
    expect(error).toMatchObject({ category: "connection", retriable: true });
  } finally {
    await sql.end();
  }
});
