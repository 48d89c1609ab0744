/**
 * `ferry test [bun test arguments]`: runs `bun test` with `ferry/testing` served to the test files,
 * as the binary serves `ferry` to handlers. The compiled binary is Bun itself (BUN_BE_BUN=1), so a
 * project needs neither Bun nor node_modules; its preload, the bundled harness, is written once
 * per build into the cache directory (FERRY_TEST_CACHE_DIR) with PGlite's files beside it.
 */
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { buildCommit } from "../build-info.ts";
import { loadTestingConfig } from "../config/load-testing.ts";
import { testUsage } from "./usage.ts";

const compiled = import.meta.path.startsWith("/$bunfs/") || import.meta.path.startsWith("B:/~BUN/");

export async function testCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args[0] === "--help" || args[0] === "-h") {
    console.log(testUsage);
    return 0;
  }
  const config = loadTestingConfig(env);
  if (compiled) await placeSnapshot(config.cacheDir);
  const preload = compiled ? await extractBundle(path.join(config.cacheDir, `bundle-${buildCommit}`)) : path.join(import.meta.dir, "../testing/preload.ts");
  const child = Bun.spawn([process.execPath, "test", "--preload", preload, ...args], {
    env: { ...env, BUN_BE_BUN: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  return await child.exited;
}

/**
 * Writes the snapshot made at build time where a harness looks for it, unless it is there: the
 * first harness on a machine then starts from it instead of running initdb.
 */
async function placeSnapshot(cacheDir: string): Promise<void> {
  const { testSnapshot } = await import("../testing/embedded-bundle.ts");
  const { snapshotPath } = await import("../testing/pglite-snapshot.ts");
  const target = snapshotPath(cacheDir, testSnapshot.key);
  if (existsSync(target)) return;
  await mkdir(cacheDir, { recursive: true });
  await placeAtomically(target, Bun.gunzipSync(await Bun.file(testSnapshot.file).bytes()));
}

/** Written aside and renamed: a `ferry test` starting beside this one never reads half of a file. */
async function placeAtomically(target: string, content: Blob | Uint8Array): Promise<void> {
  const partial = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString("hex")}`);
  await Bun.write(partial, content);
  await rename(partial, target);
}

/** Writes the bundle and PGlite's files into `dir` unless a run of this build did; returns the bundle's path. */
async function extractBundle(dir: string): Promise<string> {
  const target = path.join(dir, "ferry-testing.js");
  // A build from a dirty tree has no commit of its own: its bundle is written again each time.
  if (existsSync(target) && !buildCommit.endsWith("-dirty") && buildCommit !== "unknown") return target;
  const { testingBundle } = await import("../testing/embedded-bundle.ts");
  const { pgliteFiles } = await import("../dev/embedded-postgres.ts");
  await mkdir(dir, { recursive: true });
  const place = (from: string, name: string) => placeAtomically(path.join(dir, name), Bun.file(from));
  for (const [name, file] of Object.entries(pgliteFiles)) await place(file, name);
  await place(testingBundle, "ferry-testing.js");
  return target;
}
