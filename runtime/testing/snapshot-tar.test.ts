import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readSnapshotTar } from "./snapshot-tar.ts";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-snapshot-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A ustar of `files` (path → content; a trailing slash: a directory), made by the system's tar. */
function tarOf(name: string, files: Record<string, string>, extra: (root: string) => void = () => {}): Uint8Array {
  const root = path.join(dir, name);
  mkdirSync(root);
  for (const [file, content] of Object.entries(files)) {
    if (file.endsWith("/")) mkdirSync(path.join(root, file), { recursive: true });
    else writeFileSync(path.join(root, file), content);
  }
  extra(root);
  const r = Bun.spawnSync(["tar", "--format=ustar", "-C", root, "-cf", "-", "--sort=name", "."], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return new Uint8Array(r.stdout);
}

const decoded = (entries: ReturnType<typeof readSnapshotTar>) =>
  Object.fromEntries(entries.map((e) => [e.path, e.data === undefined ? "dir" : new TextDecoder().decode(e.data)]));

test("reads files and directories, each file a view into the archive, not a copy", () => {
  const bytes = tarOf("ok", { PG_VERSION: "18\n", "base/": "", "base/5/": "", "base/5/1259": "x".repeat(1000), "pg_wal/": "" });
  const entries = readSnapshotTar(bytes);
  expect(decoded(entries)).toEqual({ PG_VERSION: "18\n", base: "dir", "base/5": "dir", "base/5/1259": "x".repeat(1000), pg_wal: "dir" });
  expect(entries.find((e) => e.path === "base/5/1259")!.data!.buffer).toBe(bytes.buffer);
});

const good = () => tarOf(`good-${Math.random()}`, { PG_VERSION: "18\n", "global/": "", "global/pg_control": "c".repeat(700) });
test.each([
  ["truncated inside a file", () => good().subarray(0, 3000), /ends past the file's end/],
  ["truncated before the end-of-archive blocks", () => good().subarray(0, 3584), /ends at byte 3584/],
  ["a header byte changed", () => Object.assign(good(), { 10: 0x41 }), /wrong checksum/],
  ["not a tar", () => new TextEncoder().encode("not a tar at all".repeat(64)), /not an octal number|wrong checksum/],
  ["without PG_VERSION", () => tarOf("nover", { "base/": "" }), /no PG_VERSION/],
  ["with a symbolic link", () => tarOf("link", { PG_VERSION: "18\n" }, (root) => symlinkSync("PG_VERSION", path.join(root, "link"))), /tar type '2'/],
])("a snapshot %s is refused, saying why", (_, make, why) => {
  expect(() => readSnapshotTar(make())).toThrow(why);
});
