import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { databaseAddress, loadDatabaseConnection } from "./database-settings.ts";

const pem = "-----BEGIN CERTIFICATE-----\n";
const files: Record<string, string> = { "/ca.pem": pem, "/client.pem": pem, "/client.key": "-----BEGIN PRIVATE KEY-----\n", "/not-pem": "hello" };
const read = (p: string) => {
  const text = files[p];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
  return text;
};
const load = (url: string, extra: Record<string, string> = {}) => loadDatabaseConnection({ FERRY_DATABASE_URL: url, ...extra }, read);
const problemsOf = (url: string, extra: Record<string, string> = {}) => {
  try {
    load(url, extra);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected a ConfigError");
};

describe("the database connection", () => {
  test("sslmode and the files", () => {
    expect(load("postgres://u:p@db:6432/app?sslmode=verify-full", { FERRY_DATABASE_SSL_CA_FILE: "/ca.pem" })).toEqual({
      url: "postgres://u:p@db:6432/app?sslmode=verify-full",
      address: "db:6432",
      sslMode: "verify-full",
      tls: { caFile: "/ca.pem" },
    });
    expect(load("postgres://db/app")).toEqual({ url: "postgres://db/app", address: "db:5432" });
  });

  test.each([
    ["postgres://u@db/app?sslmode=strict", {}, 'sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full (got "strict")'],
    ["postgres://u@db/app", { FERRY_DATABASE_SSL_CA_FILE: "/ca.pem" }, "FERRY_DATABASE_URL has no sslmode: add ?sslmode=verify-full"],
    ["postgres://u@db/app?sslmode=prefer", { FERRY_DATABASE_SSL_CA_FILE: "/ca.pem" }, "FERRY_DATABASE_URL has sslmode=prefer"],
    [
      "postgres://u@db/app?sslmode=verify-full",
      { FERRY_DATABASE_SSL_CERT_FILE: "/client.pem" },
      "FERRY_DATABASE_SSL_CERT_FILE and FERRY_DATABASE_SSL_KEY_FILE are set together",
    ],
    [
      "postgres://u@db/app?sslmode=verify-full",
      { FERRY_DATABASE_SSL_CA_FILE: "/nope.pem" },
      "FERRY_DATABASE_SSL_CA_FILE=/nope.pem cannot be read: no such file",
    ],
    [
      "postgres://u@db/app?sslmode=verify-full",
      { FERRY_DATABASE_SSL_CA_FILE: "/not-pem" },
      'FERRY_DATABASE_SSL_CA_FILE=/not-pem is not a PEM file (it has no "-----BEGIN" line)',
    ],
    [
      "postgres://u@db/app?sslmode=verify-full&sslrootcert=/ca.pem",
      {},
      "the URL parameter sslrootcert is not supported; give the file with FERRY_DATABASE_SSL_CA_FILE",
    ],
  ])("%s with %p is refused: %s", (url, extra, expected) => {
    const problems = problemsOf(url, extra);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  test.each([
    ["postgres://u:secret@db.internal:5433/app", "db.internal:5433"],
    ["postgresql://db/app", "db:5432"],
    ["postgres://u:p@h1:5432,h2:5433/app?sslmode=require", "h1:5432,h2:5433"],
    ["postgres://u:p@[::1]:5432/app", "[::1]:5432"],
    ["postgres://u:p@ss@db/app", "db:5432"],
    // An unencoded "/" in a password cuts the authority inside it: show nothing rather than a piece of it.
    ["postgres://u:pa/ss@db/app", "(the host in FERRY_DATABASE_URL)"],
  ])("the address of %s is %s", (url, address) => {
    expect(databaseAddress(url)).toBe(address);
  });
});
