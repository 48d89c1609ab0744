/**
 * PGlite's in-memory file system with the data directory already in it when PostgreSQL starts:
 * the files are handed to the file system as they are (`canOwn`), views into one buffer, where
 * PGlite's `loadDataDir` untars a copy of each and copies it once more into its file system.
 * PostgreSQL then finds a data directory and starts on it, as on one it made itself.
 */
import { MemoryFS, PGlite } from "@electric-sql/pglite";

/** A file (its bytes) or a directory (no bytes) of the data directory, by its path inside it. */
export interface DataDirEntry {
  path: string;
  data?: Uint8Array;
}

interface EmscriptenFs {
  mkdirTree(path: string): void;
  writeFile(path: string, data: Uint8Array, options: { canOwn: boolean }): void;
}

export class PrefilledMemoryFS extends MemoryFS {
  readonly #entries: DataDirEntry[];

  /** `entries` belong to the file system from here on: PostgreSQL writes into them. */
  constructor(entries: DataDirEntry[]) {
    super();
    this.#entries = entries;
  }

  override async init(pg: PGlite, options: Parameters<MemoryFS["init"]>[1]): ReturnType<MemoryFS["init"]> {
    const { emscriptenOpts } = await super.init(pg, options);
    const fill = (module: { FS: EmscriptenFs }) => {
      const root = PGlite.paths.PGDATA;
      module.FS.mkdirTree(root);
      for (const { path, data } of this.#entries) {
        if (data === undefined) module.FS.mkdirTree(`${root}/${path}`);
        else module.FS.writeFile(`${root}/${path}`, data, { canOwn: true });
      }
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), fill] } };
  }
}
