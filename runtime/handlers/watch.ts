import { watch, type FSWatcher } from "node:fs";
import type { EngineEvents } from "../engine-events.ts";
import { coerceError, HandlerLoadError } from "../errors.ts";
import type { HandlerPool } from "../handler-pool.ts";
import type { Logger } from "../log/logger.ts";
import { handlerName, listHandlerFiles, loadHandlerFile } from "./load.ts";

export interface HandlerWatcher {
  /** Resolves once every change seen so far has been dealt with. */
  settled(): Promise<void>;
  /**
   * The files whose last version was rejected, one readiness reason each, until the file loads or
   * is removed: what the directory asks for is not what runs.
   */
  rejections(): string[];
  stop(): Promise<void>;
}

const contentHash = async (file: string) => Bun.hash(await Bun.file(file).bytes()).toString(16);

/**
 * Hot-add: watches the handlers directory and makes the running handlers match it. A new file is
 * loaded, validated and subscribed; a changed one is validated BEFORE its old version drains and
 * is swapped; a removed one drains and unsubscribes; a file that fails to load is rejected with a
 * log line and leaves whatever runs untouched. Changes are debounced (editors write in bursts) and
 * dealt with one at a time. Effects stay exactly once: a swap stops one handler's consumer (its
 * in-flight batches commit first) and the next version resumes from PostgreSQL's offsets.
 */
export async function watchHandlers(
  dir: string,
  deps: { pool: HandlerPool; events: EngineEvents; log: Logger },
  {
    debounceMs = 300,
    importTimeoutMs,
    rejectedAtStart = [],
  }: { debounceMs?: number; importTimeoutMs?: number; rejectedAtStart?: ReadonlyArray<{ file: string; problems: string[] }> } = {},
): Promise<HandlerWatcher> {
  const { pool, events } = deps;
  const log = deps.log.child({ component: "handlers-watch" });
  const known = new Map<string, string>(); // file → content hash of the version last acted on
  for (const file of await listHandlerFiles(dir)) known.set(file, await contentHash(file));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let queue: Promise<void> = Promise.resolve();
  let stopped = false;
  // Files the start left out: a fixed version (a new hash) loads like a new file.
  const rejected = new Map(rejectedAtStart.map((r) => [r.file, { problems: r.problems, running: false }]));

  const reject = (file: string, problems: string[], running: boolean) => {
    rejected.set(file, { problems, running });
    log.error("handlers:rejected", { file, problems, running: running ? "the previous version keeps running" : "nothing runs from this file" });
    events.emit("handler:rejected", { file, problems });
  };

  const apply = async (file: string) => {
    const name = handlerName(file);
    const running = pool.get(name);
    if (running && running.handler.file !== file) {
      return reject(file, [`another file defines a handler named "${name}": ${running.handler.file}`], false);
    }
    let handler: Awaited<ReturnType<typeof loadHandlerFile>>;
    try {
      handler = await loadHandlerFile(file, importTimeoutMs === undefined ? {} : { importTimeoutMs });
    } catch (e) {
      return reject(file, e instanceof HandlerLoadError ? e.problems : [coerceError(e).message], running !== undefined);
    }
    try {
      await (running ? pool.replace(handler) : pool.add(handler));
      rejected.delete(file);
    } catch (e) {
      reject(file, [coerceError(e).message], running !== undefined);
    }
  };

  const reconcile = async () => {
    if (stopped) return;
    const files = await listHandlerFiles(dir);
    const present = new Set(files);
    for (const file of [...known.keys()]) {
      if (present.has(file)) continue;
      known.delete(file);
      rejected.delete(file);
      const name = handlerName(file);
      if (pool.get(name)?.handler.file !== file) continue;
      await pool.remove(name);
      // A file refused because this one held its name (`name.js` beside `name.ts`) gets its turn now.
      for (const other of rejected.keys()) if (handlerName(other) === name) known.delete(other);
    }
    for (const file of files) {
      const hash = await contentHash(file).catch(() => null); // deleted while we looked: the next event says so
      if (hash === null || known.get(file) === hash) continue;
      known.set(file, hash);
      log.info("handlers:change-detected", { file });
      await apply(file);
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      queue = queue.then(reconcile).catch((e: unknown) => log.error("handlers:watch-failed", { dir, error: coerceError(e) }));
    }, debounceMs);
  };

  // Any event means "look again": the names in events are not to be trusted. A Kubernetes ConfigMap
  // changes by swapping its `..data` symlink (one rename of a dot-named entry) while `name.ts ->
  // ..data/name.ts` stays as it is. A re-scan compares content hashes, so an editor's swap file
  // or a rename that changed nothing costs one directory read and acts on nothing.
  const watcher: FSWatcher = watch(dir, schedule);
  watcher.on("error", (e) => log.error("handlers:watch-failed", { dir, error: coerceError(e) }));
  log.info("handlers:watching", { dir, debounceMs });

  return {
    settled: async () => {
      await Bun.sleep(debounceMs + 50);
      await queue;
    },
    rejections: () =>
      [...rejected].map(
        ([file, r]) =>
          `handler file ${file} was rejected (${r.running ? "its previous version keeps running" : "nothing runs from it"}): ${r.problems.join("; ")}; fix the file and save it again`,
      ),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      watcher.close();
      await queue;
    },
  };
}
