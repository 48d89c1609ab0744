import { copyFile, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { HandlerLoadError, coerceError } from "../errors.ts";
import { validateHandlerModule, type LoadedHandler } from "./validate.ts";
import { registerFerryModule } from "./virtual-module.ts";

const handlerFile = /^(?!.*\.(test|spec|d)\.[cm]?[jt]s$)[A-Za-z0-9][A-Za-z0-9_-]*\.(ts|js|mjs|mts)$/;
export const handlerName = (file: string) => path.basename(file).replace(/\.[^.]+$/, "");
/** Whether a file name is a handler module: editors' temp and swap files, tests and type files are not. */
export const isHandlerFileName = (name: string) => handlerFile.test(name);

/** The files of a handlers directory that are handler modules (tests, type files, dotfiles excluded). */
export async function listHandlerFiles(dir: string): Promise<string[]> {
  const absolute = path.resolve(dir);
  const info = await stat(absolute).catch(() => null);
  if (!info?.isDirectory()) {
    throw new HandlerLoadError(absolute, ["the handlers directory does not exist or is not a directory"]);
  }
  const entries = await readdir(absolute, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && handlerFile.test(e.name))
    .map((e) => path.join(absolute, e.name))
    .sort();
}

/**
 * Imports and validates one handler file. With `version` (a reload) the file's current content is
 * imported from a hidden copy beside it (`.name.v<version>.ts`): the compiled binary kept serving
 * the first version for `file.ts?v=2`, and a fresh path is a fresh module everywhere. Beside it,
 * so the handler's relative imports resolve as before; dot-named, so the watcher ignores it.
 */
export async function loadHandlerFile(file: string, version?: number): Promise<LoadedHandler> {
  registerFerryModule();
  let moduleExports: Record<string, unknown>;
  const copy = version === undefined ? null : path.join(path.dirname(file), `.${handlerName(file)}.v${version}${path.extname(file)}`);
  try {
    if (copy) await copyFile(file, copy);
    moduleExports = (await import(pathToFileURL(copy ?? file).href)) as Record<string, unknown>;
  } catch (thrown) {
    const error = coerceError(thrown);
    throw new HandlerLoadError(file, [`importing it failed: ${error.message}`], { cause: error });
  } finally {
    if (copy) await rm(copy, { force: true });
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
