import { loadConfig } from "../config/load.ts";
import { createAdminApp } from "../admin/app.ts";
import { createOperations } from "../admin/operate.ts";
import { watchHandlers } from "../handlers/watch.ts";
import { activeTraceFields, enableTraceContext } from "../trace/span.ts";
import { startEngine } from "../engine.ts";
import { createLogger } from "../log/logger.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { runUsage } from "./usage.ts";

export const runFlags: FlagMap = {
  handlers: { env: "FERRY_HANDLERS_DIR" },
  brokers: { env: "FERRY_KAFKA_BROKERS" },
  "database-url": { env: "FERRY_DATABASE_URL" },
  "group-prefix": { env: "FERRY_GROUP_PREFIX" },
  "batch-size": { env: "FERRY_BATCH_SIZE" },
  concurrency: { env: "FERRY_PARTITION_CONCURRENCY" },
  "log-level": { env: "FERRY_LOG_LEVEL" },
  "http-port": { env: "FERRY_HTTP_PORT" },
  "registry-url": { env: "FERRY_SCHEMA_REGISTRY_URL" },
};

/** `ferry run`: config → engine → wait for a signal → drain → exit. */
export async function runCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help } = parseFlags("run", args, runFlags, env);
  if (help) {
    console.log(runUsage);
    return 0;
  }
  const config = loadConfig(settings);
  enableTraceContext();
  const log = createLogger({ level: config.logLevel, context: activeTraceFields });
  const operations = createOperations(config, log);
  const engine = await startEngine(config, log, undefined, operations.events);
  const watcher = config.watchHandlers ? await watchHandlers(config.handlersDir, { pool: engine.handlers, events: operations.events, log }) : undefined;
  const server = Bun.serve({ hostname: config.http.host, port: config.http.port, fetch: createAdminApp(operations.adminDeps(engine)).fetch });
  log.info("http:listening", { host: config.http.host, port: server.port, admin: config.admin.enabled, token: config.admin.token !== undefined });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info("engine:draining", { signal, timeoutMs: config.shutdownTimeoutMs });
  const exitNow = () => {
    log.warn("engine:second-signal-exit");
    process.exit(130);
  };
  process.once("SIGTERM", exitNow);
  process.once("SIGINT", exitNow);
  await watcher?.stop();
  const { drained } = await engine.stop();
  await server.stop();
  return drained ? 0 : 1;
}
