import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { HandlerLoadError, coerceError } from "../errors.ts";
import { importFresh } from "./import-fresh.ts";
import { validateHandlerModule, type LoadedHandler } from "./validate.ts";
import { registerFerryModule } from "./virtual-module.ts";

const handlerFile = /^(?!.*\.(test|spec|d)\.[cm]?[jt]s$)[A-Za-z0-9][A-Za-z0-9_-]*\.(ts|js|mjs|mts)$/;
export const handlerName = (file: string) => path.basename(file).replace(/\.[^.]+$/, "");

/**
 * The files of a handlers directory that are handler modules (tests, type files, dotfiles excluded).
 * Symbolic links to files count: a Kubernetes ConfigMap volume holds `name.ts -> ..data/name.ts`
 * (its `..data` and `..<timestamp>` entries are dot-named, so never handlers). A dangling link is
 * not a handler: during a ConfigMap update a removed file's link outlives its target briefly.
 */
export async function listHandlerFiles(dir: string): Promise<string[]> {
  const absolute = path.resolve(dir);
  const info = await stat(absolute).catch(() => null);
  if (!info?.isDirectory()) {
    throw new HandlerLoadError(absolute, ["the handlers directory does not exist or is not a directory"]);
  }
  const files: string[] = [];
  for (const entry of await readdir(absolute, { withFileTypes: true })) {
    if (!handlerFile.test(entry.name)) continue;
    const file = path.join(absolute, entry.name);
    if (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).catch(() => null))?.isFile())) files.push(file);
  }
  return files.sort();
}

/**
 * Imports and validates one handler file, as its content is now: a reload after a change gets the
 * new version (import-fresh.ts). Nothing is written, so the directory may be read-only.
 */
export async function loadHandlerFile(file: string): Promise<LoadedHandler> {
  registerFerryModule();
  let moduleExports: Record<string, unknown>;
  try {
    moduleExports = await importFresh(file);
  } catch (thrown) {
    const error = coerceError(thrown);
    throw new HandlerLoadError(file, [`importing it failed: ${error.message}`], { cause: error });
  }
  const result = validateHandlerModule(handlerName(file), file, moduleExports);
  if ("problems" in result) throw new HandlerLoadError(file, result.problems);
  return result.handler;
}

/** Loads every handler of a directory; any bad file stops the load with its path and problems. */
export async function loadHandlers(dir: string): Promise<LoadedHandler[]> {
  const files = await listHandlerFiles(dir);
  const byName = new Map<string, string>();
  for (const file of files) {
    const name = handlerName(file);
    const other = byName.get(name);
    if (other) throw new HandlerLoadError(file, [`another file defines a handler named "${name}": ${other}`]);
    byName.set(name, file);
  }
  const handlers: LoadedHandler[] = [];
  for (const file of files) handlers.push(await loadHandlerFile(file));
  return handlers;
}
