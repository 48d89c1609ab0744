/**
 * `ferry dev`'s database: PGlite (PostgreSQL compiled to WebAssembly) with its data in a local
 * folder, served on loopback by the wire-protocol bridge. Inside a compiled binary PGlite cannot
 * find its WebAssembly and data files next to its module, so they are embedded with
 * `with { type: "file" }` and handed in.
 */
import { PGlite } from "@electric-sql/pglite";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import pgliteData from "../../node_modules/@electric-sql/pglite/dist/pglite.data" with { type: "file" };
import pgliteWasm from "../../node_modules/@electric-sql/pglite/dist/pglite.wasm" with { type: "file" };
import initdbWasm from "../../node_modules/@electric-sql/pglite/dist/initdb.wasm" with { type: "file" };
import { servePglite } from "./pglite-bridge.ts";
import { type DataDirEntry, PrefilledMemoryFS } from "./prefilled-memory-fs.ts";

/**
 * PGlite's files, by the names ferry/testing's bundle expects beside it (`ferry test` writes them
 * there). A file import is absolute from source and in the binary, relative in a plain bundle:
 * there it is relative to the bundle, not to the working directory.
 */
export const pgliteFiles = { "pglite.data": pgliteData, "pglite.wasm": pgliteWasm, "initdb.wasm": initdbWasm };
const located = (file: string) => (path.isAbsolute(file) ? file : path.join(import.meta.dir, file));

export interface EmbeddedPostgres {
  /** A postgres:// URL any client can use while the dev process runs. */
  url: string;
  db: PGlite;
  stop(): Promise<void>;
}

const modules = new Map<string, Promise<WebAssembly.Module>>();

/** Compiled once per process: ferry/testing starts a PGlite per test file, all in one `bun test`. */
const compiled = (file: string) => {
  let module = modules.get(file);
  if (!module)
    modules.set(
      file,
      (module = Bun.file(located(file))
        .arrayBuffer()
        .then((bytes) => WebAssembly.compile(bytes))),
    );
  return module;
};

/**
 * Starts compiling PGlite's WebAssembly, off the main thread (0.2-0.7 s on a loaded machine), for a
 * caller with other work to do before it starts the database: that work then overlaps the compile.
 */
export function compilePglite(): void {
  void compiled(pgliteWasm).catch(() => {});
}

/**
 * `dataDir` omitted: the database lives in memory and is gone once stopped (ferry/testing's fresh
 * database). `loadDataDir`: start from a dump (PGlite's dumpDataDir) instead of running initdb;
 * `dataDirEntries`: the same, its files already read (in memory only; ferry/testing's snapshot).
 * `initdbArgs`: added to initdb's when it runs. `settings`: server settings (`-c name=value`) on
 * top of PGlite's own.
 */
export async function startEmbeddedPostgres({
  dataDir,
  port = 0,
  loadDataDir,
  dataDirEntries,
  initdbArgs,
  settings = {},
}: {
  dataDir?: string;
  port?: number;
  loadDataDir?: Blob;
  dataDirEntries?: DataDirEntry[];
  initdbArgs?: string[];
  settings?: Record<string, string>;
} = {}): Promise<EmbeddedPostgres> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create({
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
    ...(dataDirEntries ? { fs: new PrefilledMemoryFS(dataDirEntries) } : {}),
    pgliteWasmModule: await compiled(pgliteWasm),
    // Only initdb needs it: a database loaded from a dump has been through initdb.
    ...(loadDataDir || dataDirEntries ? {} : { initdbWasmModule: await compiled(initdbWasm) }),
    ...(initdbArgs ? { initDbStartParams: initdbArgs } : {}),
    startParams: [...PGlite.defaultStartParams, ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`])],
    fsBundle: Bun.file(located(pgliteData)),
  });
  try {
    const bridge = await servePglite(db, { port });
    return {
      url: `postgres://postgres@127.0.0.1:${bridge.port}/postgres`,
      db,
      async stop() {
        await bridge.stop();
        await db.close();
      },
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
