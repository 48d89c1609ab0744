/**
 * patches/postgres@3.4.9.patch serializes flat arrays of strings, numbers and nulls with one
 * JSON.stringify (a fast path: one string per array, not one per element). What PostgreSQL reads
 * back must be exactly what was sent, whatever the strings hold.
 */
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";

const url = process.env.FERRY_TEST_DATABASE_URL;
const sql = url ? postgres(url, { max: 1, onnotice: () => {} }) : undefined;
afterAll(() => sql?.end());

test
  .skipIf(!url)
  .each([
    [["a", "b"]],
    [['with "quote"', "back\\slash", 'both \\" mixed', "\\\\n literal", "a\\", "\\", "\\u0041"]],
    [["new\nline", "tab\t", "\u0001control", "\u007f"]],
    [["é", "🚢", "日本"]],
    [["null", "NULL", "", " space ", "{brace}", "comma,x", "semi;colon"]],
    [[null, "x", null]],
    [["lone \ud800 surrogate"]],
  ])("text[] round trip %#", async (values) => {
  // Read back as JSON from the server: postgres.js's own text[] parser returns NULL elements as "NULL".
  const [row] = await sql!<{ v: string }[]>`select array_to_json(${values as string[]}::text[])::text as v`;
  // A lone surrogate cannot be UTF-8: it arrives as U+FFFD on both paths.
  expect(JSON.parse(row!.v)).toEqual(values.map((x) => (x === null ? null : x.replace(/\ud800/g, "\ufffd"))));
});

test.skipIf(!url)("numbers in int, bigint and text arrays", async () => {
  const [row] = await sql!<
    { i: number[]; b: string[]; t: string[] }[]
  >`select ${[1, -3, 0]}::int[] as i, ${["9007199254740990", "-5"]}::bigint[] as b, ${[2.5, 1e21]}::text[] as t`;
  expect(row).toEqual({ i: [1, -3, 0], b: ["9007199254740990", "-5"], t: ["2.5", "1e+21"] });
});
