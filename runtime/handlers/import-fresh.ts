import { plugin } from "bun";
import { readFileSync } from "node:fs";
import path from "node:path";

/** Virtual module path → the handler file whose content it serves. Filled only while an import runs. */
const pending = new Map<string, string>();
const virtualName = /\.ferry-load-\d+\.(?:[cm]?[jt]s)$/;
let loads = 0;
let registered = false;

/**
 * Imports a handler file's CURRENT content as a new module, writing nothing anywhere.
 *
 * Each call imports a path that never exists on disk, `<dir>/.<name>.ferry-load-<n>.<ext>`, and a
 * Bun plugin serves it the file's content. Why:
 * - A changed file must load as a new module: `file.ts?v=2` does not do it in the compiled binary,
 *   which kept serving the first version. A fresh path is a fresh module everywhere.
 * - Nothing is written: the handlers directory is read-only in a container (a Kubernetes ConfigMap
 *   always is), and a copy elsewhere would break the handler's relative imports.
 * - The virtual path sits in the directory the file is LISTED in, so relative imports
 *   (`./lib.ts`, `../schemas/x.avsc`) resolve against it, like the handler's `schema` option does.
 *   Importing the file itself would resolve them against its real path: in a ConfigMap volume,
 *   `first.ts` is a symlink into `..data/`, so `../schemas` would name the wrong directory.
 * Stack traces of a handler name this path (same line numbers as the file).
 */
export async function importFresh(file: string): Promise<Record<string, unknown>> {
  registerPlugin();
  const ext = path.extname(file);
  const virtual = path.join(path.dirname(file), `.${path.basename(file, ext)}.ferry-load-${++loads}${ext}`);
  pending.set(virtual, file);
  try {
    return (await import(virtual)) as Record<string, unknown>;
  } finally {
    pending.delete(virtual);
  }
}

function registerPlugin(): void {
  if (registered) return;
  registered = true;
  plugin({
    name: "ferry-handler-files",
    setup(build) {
      build.onResolve({ filter: virtualName }, (args) => (pending.has(args.path) ? { path: args.path } : undefined));
      build.onLoad({ filter: virtualName }, (args) => {
        const file = pending.get(args.path);
        if (file === undefined) throw new Error(`${args.path} is not a handler file being loaded`);
        // Read through symlinks: a ConfigMap's files are links into its current `..data/`.
        return { contents: readFileSync(file, "utf8"), loader: /\.[cm]?ts$/.test(file) ? "ts" : "js" };
      });
    },
  });
}
