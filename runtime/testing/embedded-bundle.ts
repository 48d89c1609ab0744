/**
 * ferry/testing as one JavaScript file, built by scripts/build.ts before the binary is compiled
 * and carried inside it, with the PGlite snapshot of Ferry's migrations made at build time.
 * Imported only by a compiled `ferry test`: from source neither may exist.
 */
import bundle from "../../dist/testing/preload.bundle" with { type: "file" };
import snapshot from "../../dist/testing/pglite-snapshot.tar.gz" with { type: "file" };

// Replaced by scripts/build.ts (Bun.build `define`): the snapshot's key (pglite-snapshot.ts, migrationsKey).
declare const FERRY_TEST_SNAPSHOT_KEY: string;

export const testingBundle: string = bundle;
/** The gzipped snapshot, and the key of the migrations it holds. */
export const testSnapshot = { file: snapshot, key: FERRY_TEST_SNAPSHOT_KEY };
