import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { HandlerLoadError, coerceError, throwIfStartAborted } from "../errors.ts";
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

/** How long importing one handler module may take: its top-level code, `await`s included. */
export const DEFAULT_IMPORT_TIMEOUT_MS = 30_000;

export interface LoadOptions {
  /** A module still importing after this long is rejected (its top-level `await` may never settle). */
  importTimeoutMs?: number;
  /** A stop signal: an import still running is given up, the load throws StartAbortedError. */
  signal?: AbortSignal;
}

/**
 * Imports and validates one handler file, as its content is now: a reload after a change gets the
 * new version (import-fresh.ts). Nothing is written, so the directory may be read-only.
 *
 * The import is BOUNDED: a module whose top-level `await` never settles would otherwise hold the
 * start-up (no log line, deaf to SIGTERM) or the hot-add queue (no later change applied, and a
 * shutdown that waits for it forever). A module cannot be cancelled, so one that times out stays
 * pending in memory; it is never used.
 */
export async function loadHandlerFile(file: string, { importTimeoutMs = DEFAULT_IMPORT_TIMEOUT_MS, signal }: LoadOptions = {}): Promise<LoadedHandler> {
  registerFerryModule();
  let moduleExports: Record<string, unknown>;
  try {
    moduleExports = await bounded(importFresh(file), file, importTimeoutMs, signal);
  } catch (thrown) {
    throwIfStartAborted(signal, thrown);
    if (thrown instanceof HandlerLoadError) throw thrown;
    const error = coerceError(thrown);
    const where = importFailureLine(error.stack);
    const kind = /^(Type|Syntax|Reference|Range)Error$/.test(error.name) ? `${error.name}: ` : "";
    throw new HandlerLoadError(file, [`importing it failed${where ? ` at line ${where}` : ""}: ${kind}${readableImportError(error.message, file)}`], {
      cause: error,
    });
  }
  const result = validateHandlerModule(handlerName(file), file, moduleExports);
  if ("problems" in result) throw new HandlerLoadError(file, result.problems);
  return result.handler;
}

/** The import, or a HandlerLoadError once `timeoutMs` passed, or the abort once `signal` fires. */
async function bounded<T>(work: Promise<T>, file: string, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const limits = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HandlerLoadError(file, [
            `importing it did not finish within ${timeoutMs / 1000} s (FERRY_HANDLER_IMPORT_TIMEOUT_MS): its top-level code is still running, e.g. an \`await\` that never settles; move slow work into handle(), or raise the limit`,
          ]),
        ),
      timeoutMs,
    );
    onAbort = () => reject(signal?.reason);
    // Aborted already (a signal while the directory was listed): an abort event never comes again.
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, limits]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
    work.catch(() => undefined); // given up on: its late failure is nobody's
  }
}

/** `line:column` of the handler file where its top-level code threw: the first stack frame in its load path (import-fresh.ts). */
const importFailureLine = (stack: string | undefined) => /\.ferry-load-\d+\.[cm]?[jt]s:(\d+:\d+)/.exec(stack ?? "")?.[1];

/** Bun names the path it imported, which is the virtual one (import-fresh.ts): name the handler's file instead. */
const readableImportError = (message: string, file: string) => {
  const text = message.replace(/\S*\.ferry-load-\d+\.[cm]?[jt]s\b/g, file);
  // The packages bundled in the binary are not importable from disk: say what is.
  return /^Cannot find (package|module) '[^./]/.test(text) ? `${text} (${importableHint})` : text;
};
const importableHint =
  'a handler imports "ferry", "ferry/pg-core", "ferry/drizzle", its own relative files, and packages installed in a node_modules directory beside the handlers';

/** Loads every handler of a directory; any bad file stops the load with its path and problems. */
export async function loadHandlers(dir: string, options: LoadOptions = {}): Promise<LoadedHandler[]> {
  const { handlers, rejected } = await loadHandlerSet(dir, options);
  if (rejected[0]) throw rejected[0];
  return handlers;
}

/**
 * Loads every handler of a directory, each file on its own: the ones that load, and a
 * HandlerLoadError for each that does not (a second file for a name already taken included).
 * Only a stop signal, or a directory that is not there, ends the load early.
 */
export async function loadHandlerSet(dir: string, options: LoadOptions = {}): Promise<{ handlers: LoadedHandler[]; rejected: HandlerLoadError[] }> {
  const files = await listHandlerFiles(dir);
  const byName = new Map<string, string>();
  const handlers: LoadedHandler[] = [];
  const rejected: HandlerLoadError[] = [];
  for (const file of files) {
    const name = handlerName(file);
    const other = byName.get(name);
    if (other) rejected.push(new HandlerLoadError(file, [`another file defines a handler named "${name}": ${other}`]));
    else byName.set(name, file);
  }
  // Side by side: a module slow to import (top-level work, up to the import timeout) delays the
  // start by its own time once, not once per file after it. Results keep the files' order.
  const loads = await Promise.allSettled(files.filter((file) => byName.get(handlerName(file)) === file).map((file) => loadHandlerFile(file, options)));
  for (const load of loads) {
    if (load.status === "fulfilled") handlers.push(load.value);
    else if (load.reason instanceof HandlerLoadError) rejected.push(load.reason);
    else throw load.reason; // a stop signal (StartAbortedError)
  }
  return { handlers, rejected };
}
