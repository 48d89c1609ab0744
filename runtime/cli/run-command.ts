import { loadConfig } from "../config/load.ts";
import { activeTraceFields, enableTraceContext } from "../trace/span.ts";
import { buildInfo } from "../build-info.ts";
import { librdkafkaVersion } from "../kafka/confluent.ts";
import { createLogger } from "../log/logger.ts";
import { guardProcess } from "../process-guard.ts";
import { StartAbortedError } from "../errors.ts";
import { explainConnectionFailure, startDependencies } from "../health/at-start.ts";
import { waitForDependencies } from "../health/wait-at-start.ts";
import { startWorker, type Worker } from "../worker.ts";
import { listenForStopSignals, type StopSignals } from "./signals.ts";
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

/**
 * `ferry run`: config → worker → wait for a signal → drain → exit. `stop` listens from before the
 * command's modules load (main.ts): a signal during start-up aborts it, which is a clean exit (0).
 */
export async function runCommand(args: string[], env: Record<string, string | undefined>, stop: StopSignals = listenForStopSignals()): Promise<number> {
  const { settings, help } = parseFlags("run", args, runFlags, env);
  if (help) {
    console.log(runUsage);
    return 0;
  }
  const config = loadConfig(settings);
  enableTraceContext();
  const log = createLogger({ level: config.logLevel, context: activeTraceFields });
  guardProcess(log);
  stop.logTo(log);
  // Only with OTEL_* settings that ask for an exporter; otherwise no SDK module is even loaded.
  const tracing = config.telemetry
    ? await (await import("../trace/sdk.ts")).startTracing(config.telemetry, {
        log,
        build: buildInfo(librdkafkaVersion()),
        ...(config.consumer.groupInstanceId ? { instanceId: config.consumer.groupInstanceId } : {}),
      })
    : undefined;
  // Said when the signal comes: unwinding may take a while (a migration in progress finishes first).
  const aborting = () => log.info("engine:start-aborting", { signal: stop.signal.reason });
  if (stop.signal.aborted) aborting();
  else stop.signal.addEventListener("abort", aborting, { once: true });
  let worker: Worker;
  try {
    // Pods start in any order: services not there yet are waited for, up to FERRY_STARTUP_TIMEOUT_MS.
    await waitForDependencies(startDependencies(config), { log, timeoutMs: config.startupTimeoutMs, signal: stop.signal });
    worker = await startWorker(config, log, { signal: stop.signal });
  } catch (e) {
    await tracing?.shutdown();
    if (!(e instanceof StartAbortedError)) throw explainConnectionFailure(e, config);
    log.info("engine:start-aborted", { signal: e.signal });
    return 0;
  } finally {
    stop.signal.removeEventListener("abort", aborting);
  }
  const signal = await stop.received;
  log.info("engine:draining", { signal, timeoutMs: config.shutdownTimeoutMs });
  const { drained } = await worker.stop();
  // The last spans (the drain's) leave before the process does.
  await tracing?.shutdown();
  return drained ? 0 : 1;
}
