import type { HandlerWorker } from "./consume/handler-worker.ts";
import type { EngineEvents } from "./engine-events.ts";
import { coerceError } from "./errors.ts";
import type { LoadedHandler } from "./handlers/validate.ts";
import type { Logger } from "./log/logger.ts";

/** The running workers by handler name. Adding, swapping or removing one never touches the others. */
export interface HandlerPool {
  list(): HandlerWorker[];
  get(name: string): HandlerWorker | undefined;
  /** Loads nothing: `handler` was validated by the caller. Subscribes it under its own group. */
  add(handler: LoadedHandler): Promise<void>;
  /**
   * Drains the handler's partitions (its in-flight batches finish and its group is left), then
   * subscribes the new version. Another handler's partitions never wait.
   */
  replace(handler: LoadedHandler): Promise<void>;
  /** Drains the handler's partitions and unsubscribes it (its group is left, static member or not). */
  remove(name: string): Promise<void>;
  /** `leaveGroup: false`: static members keep their partitions for this worker's restart. */
  stopAll(options?: { leaveGroup?: boolean }): Promise<void>;
}

export function createHandlerPool(deps: {
  /** Checks what the engine checks at start (schema gate, dead letter topics, migrations) and builds a worker, not started. */
  prepare(handler: LoadedHandler): Promise<HandlerWorker>;
  events: EngineEvents;
  log: Logger;
}): HandlerPool {
  const workers = new Map<string, HandlerWorker>();
  // The handlers as loaded (the workers may hold wrapped ones): what a failed swap restarts.
  const loaded = new Map<string, LoadedHandler>();
  const { events, log } = deps;

  const startNew = async (handler: LoadedHandler, pausedTopics: string[] = []) => {
    const worker = await deps.prepare(handler);
    // An operator's pause outlives a new version of the handler: recorded before the first assignment.
    for (const topic of pausedTopics) if (handler.topics.includes(topic)) worker.pause({ topic });
    try {
      await worker.start();
    } catch (e) {
      // Whatever it got as far as starting (a connected client, timers) must not outlive it.
      await worker.stop().catch(() => undefined);
      throw e;
    }
    workers.set(handler.name, worker);
    loaded.set(handler.name, handler);
    return worker;
  };

  return {
    list: () => [...workers.values()],
    get: (name) => workers.get(name),
    async add(handler) {
      if (workers.has(handler.name)) throw new Error(`handler ${handler.name} is running already`);
      await startNew(handler);
      log.info("handler:added", { handler: handler.name, file: handler.file, topics: handler.topics });
      events.emit("handler:added", { handler: handler.name, file: handler.file });
    },
    async replace(handler) {
      const old = workers.get(handler.name);
      if (!old) return this.add(handler);
      // Prepared before the old one stops: a new version that cannot run leaves the old one running.
      const next = await deps.prepare(handler);
      const paused = old.paused ? old.handler.topics : [];
      // The new version joins under the same static id (if any) and takes the partitions at once.
      await old.stop({ leaveGroup: false });
      workers.delete(handler.name);
      for (const topic of paused) if (handler.topics.includes(topic)) next.pause({ topic });
      try {
        await next.start();
      } catch (e) {
        log.error("handler:swap-failed", { handler: handler.name, error: coerceError(e) });
        await next.stop().catch(() => undefined);
        await startNew(loaded.get(handler.name)!, paused);
        throw e;
      }
      workers.set(handler.name, next);
      loaded.set(handler.name, handler);
      log.info("handler:replaced", { handler: handler.name, file: handler.file, topics: handler.topics });
      events.emit("handler:replaced", { handler: handler.name, file: handler.file });
    },
    async remove(name) {
      const worker = workers.get(name);
      if (!worker) return;
      await worker.stop({ leaveGroup: true });
      workers.delete(name);
      loaded.delete(name);
      log.info("handler:removed", { handler: name, file: worker.handler.file });
      events.emit("handler:removed", { handler: name, file: worker.handler.file });
    },
    async stopAll(options) {
      await Promise.allSettled([...workers.values()].map((w) => w.stop(options)));
    },
  };
}
