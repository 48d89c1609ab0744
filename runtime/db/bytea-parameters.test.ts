/**
 * patches/postgres@3.4.9.patch sends bytea parameters in PostgreSQL's binary format (their bytes
 * as they are, no hex text) and hands each message to the socket without copying it again. What
 * the server stores must be exactly the bytes given, whatever view of a buffer they are, beside
 * text parameters and nulls in the same statement.
 */
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";

const url = process.env.FERRY_TEST_DATABASE_URL;
const sql = url ? postgres(url, { max: 1, onnotice: () => {} }) : undefined;
afterAll(() => sql?.end());

const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test.skipIf(!url).each([
  ["every byte value", everyByte],
  ["empty", Buffer.alloc(0)],
  ["a view into a larger buffer", everyByte.subarray(250, 254)],
  ["a Uint8Array at an offset", new Uint8Array(everyByte.buffer, everyByte.byteOffset + 3, 5)],
  ["looks like hex text", Buffer.from("\\x41424344")],
  ["2 MiB", Buffer.alloc(2 * 1024 * 1024, 0xa5)],
])("bytea round trip: %s", async (_, bytes) => {
  // Compared by the server as well: md5 of what it stored against md5 of the bytes sent.
  const [row] = await sql!<
    { back: Buffer; length: number; md5: string }[]
  >`select ${bytes}::bytea as back, length(${bytes}::bytea) as length, md5(${bytes}::bytea) as md5`;
  expect(Buffer.compare(row!.back, Buffer.from(bytes))).toBe(0);
  expect(row!.length).toBe(bytes.length);
  expect(row!.md5).toBe(new Bun.CryptoHasher("md5").update(bytes).digest("hex"));
});

test.skipIf(!url)("bytea beside text, numbers and nulls in one statement, prepared and reused", async () => {
  for (let i = 0; i < 3; i++) {
    const key = Buffer.from([0, 255, i]);
    const [row] = await sql!<{ t: string; k: Buffer; n: number; z: Buffer | null; hex: string }[]>`
      select ${`text ${i}`}::text as t, ${key}::bytea as k, ${i}::int as n, ${null}::bytea as z, encode(${key}::bytea, 'hex') as hex`;
    expect(row).toEqual({ t: `text ${i}`, k: key, n: i, z: null, hex: `00ff0${i}` });
  }
});
