import { loadConfig } from "../config/load.ts";
import { activeTraceFields, enableTraceContext } from "../trace/span.ts";
import { createLogger } from "../log/logger.ts";
import { startWorker } from "../worker.ts";
import { untilStopSignal } from "./signals.ts";
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

/** `ferry run`: config → worker → wait for a signal → drain → exit. */
export async function runCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { settings, help } = parseFlags("run", args, runFlags, env);
  if (help) {
    console.log(runUsage);
    return 0;
  }
  const config = loadConfig(settings);
  enableTraceContext();
  const log = createLogger({ level: config.logLevel, context: activeTraceFields });
  const worker = await startWorker(config, log);
  const signal = await untilStopSignal(log);
  log.info("engine:draining", { signal, timeoutMs: config.shutdownTimeoutMs });
  const { drained } = await worker.stop();
  return drained ? 0 : 1;
}
