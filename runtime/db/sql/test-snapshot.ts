/**
 * What ferry/testing runs on its PGlite database before dumping it as the snapshot each harness
 * starts from. Plain statements for PGlite's own client, one at a time (DROP DATABASE refuses a
 * transaction block).
 *
 * The template databases go: only CREATE DATABASE reads them, and a harness's PGlite is one
 * session on `postgres` that could not connect to another database anyway. They are two thirds
 * of the data directory, which every harness start reads and copies. The checkpoint last: the
 * dump then starts without replaying the migrations' WAL.
 */
export const snapshotStatements = [
  "alter database template1 is_template false",
  "drop database template1",
  "alter database template0 is_template false",
  "drop database template0",
  "checkpoint",
] as const;
