/**
 * A running worker: the engine with its subscribers (metrics, progress, admin), the handlers
 * directory watched for hot-add, and the HTTP surface. `ferry run` and `ferry dev` start the same
 * thing; only the Kafka port, database and registry they hand in differ.
 */
import { createAdminApp } from "./admin/app.ts";
import { createOperations } from "./admin/operate.ts";
import { logProgress } from "./admin/progress-log.ts";
import type { FerryConfig } from "./config/load.ts";
import { ConfigError } from "./errors.ts";
import { startEngine, type Engine, type EngineOptions } from "./engine.ts";
import type { EngineEvents } from "./engine-events.ts";
import { watchHandlers } from "./handlers/watch.ts";
import type { Logger } from "./log/logger.ts";
import { allocatorSettings } from "./memory/allocator-env.ts";
import { createMemoryGovernor } from "./memory/governor.ts";
import { memoryLimitWarnings } from "./memory/limit-report.ts";

export interface Worker {
  engine: Engine;
  events: EngineEvents;
  /** Where /healthz, /readyz, /metrics and the admin page listen. */
  httpUrl: string;
  /** Stops watching, drains the engine (up to the shutdown timeout), closes the HTTP server. */
  stop(): Promise<{ drained: boolean }>;
}

/**
 * A stop `signal` before the engine runs aborts the start-up (StartAbortedError, nothing left
 * running); once the engine runs, the caller stops the worker it gets back.
 */
export async function startWorker(
  config: FerryConfig,
  log: Logger,
  { kafka, signal, embeddedDatabase }: Pick<EngineOptions, "kafka" | "signal" | "embeddedDatabase"> = {},
): Promise<Worker> {
  const operations = createOperations(config, log);
  // The port first: one in use fails at once, not after the engine started; and probes get an
  // answer while it starts (alive, not ready).
  const server = serveOn(config.http, answerWhileStarting);
  let engine: Engine;
  try {
    engine = await startEngine(config, log, { kafka, events: operations.events, signal, embeddedDatabase });
  } catch (e) {
    await server.stop(true);
    throw e;
  }
  let watcher: Awaited<ReturnType<typeof watchHandlers>> | undefined;
  try {
    watcher = config.watchHandlers
      ? await watchHandlers(
          config.handlersDir,
          { pool: engine.handlers, events: operations.events, log },
          { importTimeoutMs: config.handlerImportTimeoutMs, rejectedAtStart: engine.rejectedAtStart },
        )
      : undefined;
    const admin = operations.adminDeps(engine);
    // A file the watch rejected is a reason too: the directory asks for something that does not run.
    const leftOut = engine.rejectedAtStart.map(
      (r) => `handler file ${r.file} was rejected (nothing runs from it): ${r.problems.join("; ")}; fix it and restart`,
    );
    const rejections = watcher ? watcher.rejections : () => leftOut;
    const readiness = async () => {
      const report = await admin.readiness();
      const rejected = rejections();
      return rejected.length === 0 ? report : { ...report, ok: false, reasons: [...report.reasons, ...rejected] };
    };
    server.reload({ fetch: createAdminApp({ ...admin, readiness }).fetch });
  } catch (e) {
    await watcher?.stop();
    await engine.stop();
    await server.stop(true);
    throw e;
  }
  log.info("http:listening", { host: config.http.host, port: server.port, admin: config.admin.enabled, token: config.admin.token !== undefined });
  const memory =
    config.memoryTargetMb > 0
      ? createMemoryGovernor({
          targetBytes: config.memoryTargetMb * 1024 * 1024,
          onCollected: (heap) => log.debug("memory:collected", { heapMb: mb(heap), rssMb: mb(process.memoryUsage.rss()) }),
          onOverTarget: (heap) =>
            log.warn("memory:over-target", {
              heapMb: mb(heap),
              targetMb: config.memoryTargetMb,
              hint: "collections do not bring the worker's heap under FERRY_MEMORY_TARGET_MB: raise it, or lower FERRY_BATCH_SIZE or FERRY_PARTITION_CONCURRENCY",
            }),
        })
      : undefined;
  memory?.start();
  log.info("memory:settings", {
    targetMb: config.memoryTargetMb,
    limitMb: config.memoryLimitMb ?? "none",
    // Each handler's batch, as the engine fitted it for the handlers it started.
    ...engine.startFit,
    ...allocatorSettings(process.env),
  });
  for (const { msg, fields } of memoryLimitWarnings({ ...config, ...engine.startFit })) log.warn(msg, fields);
  const progress =
    config.progressIntervalMs > 0
      ? logProgress(operations.events, {
          intervalMs: config.progressIntervalMs,
          log,
          async ownedLag() {
            const handlers = await engine.controls.listHandlers();
            return handlers.map((h) => {
              const owned = h.partitions.filter((p) => p.assigned);
              return { handler: h.name, partitions: owned.length, lag: owned.reduce((sum, p) => sum + p.lag, 0) };
            });
          },
        })
      : undefined;
  return {
    engine,
    events: operations.events,
    httpUrl: `http://${config.http.host.includes(":") ? `[${config.http.host}]` : config.http.host}:${server.port}`,
    async stop() {
      memory?.stop();
      progress?.stop();
      await watcher?.stop();
      const result = await engine.stop();
      await server.stop();
      return result;
    },
  };
}

const mb = (bytes: number) => Math.round(bytes / (1024 * 1024));

/** Before the engine runs: alive (a start-up that waits for its services is not dead), not ready. */
function answerWhileStarting(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/healthz") return Response.json({ ok: true, reasons: [], state: "starting" });
  return Response.json({ ok: false, reasons: ["the engine is starting"], state: "starting" }, { status: 503 });
}

/** Bun.serve, with a port already taken turned into the setting to change. */
function serveOn({ host, port }: FerryConfig["http"], fetch: (request: Request) => Response | Promise<Response>) {
  try {
    return Bun.serve({ hostname: host, port, fetch });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    throw new ConfigError([
      `FERRY_HTTP_PORT=${port} is already in use on ${host}: stop what listens there, or pick another port (--http-port <n>, 0 for any free port)`,
    ]);
  }
}
