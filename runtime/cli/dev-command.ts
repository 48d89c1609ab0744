/**
 * `ferry dev`: embedded parts → the real engine → banner → live tally → wait for a signal → stop.
 */
import { loadDevConfig } from "../config/load-dev.ts";
import { startDev, type DevSession } from "../dev/start-dev.ts";
import { renderBanner } from "../dev/banner.ts";
import { formatTallyLine, trackTotals } from "../dev/tally.ts";
import { StartAbortedError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import { guardProcess } from "../process-guard.ts";
import { parseFlags, type FlagMap } from "./flags.ts";
import { listenForStopSignals, type StopSignals } from "./signals.ts";
import { devUsage } from "./usage.ts";

const devFlags: FlagMap = {
  handlers: { env: "FERRY_HANDLERS_DIR" },
  schemas: { env: "FERRY_SCHEMAS_DIR" },
  "data-dir": { env: "FERRY_DEV_DATA_DIR" },
  reset: { env: "FERRY_DEV_RESET", value: "true" },
  "http-port": { env: "FERRY_HTTP_PORT" },
  "log-level": { env: "FERRY_LOG_LEVEL" },
  json: { env: "FERRY_DEV_FORMAT", value: "json" },
};

/** `stop` listens from before the command's modules load (main.ts): a signal during start-up aborts it (exit 0). */
export async function devCommand(args: string[], env: Record<string, string | undefined>, stop: StopSignals = listenForStopSignals()): Promise<number> {
  const { settings, help } = parseFlags("dev", args, devFlags, { FERRY_HANDLERS_DIR: "handlers", FERRY_LOG_LEVEL: "warn", ...env });
  if (help) {
    console.log(devUsage);
    return 0;
  }
  const dev = loadDevConfig(settings);
  const log = createLogger({ level: (settings.FERRY_LOG_LEVEL as "warn") ?? "warn" });
  guardProcess(log);
  stop.logTo(log);
  const json = dev.format === "json";
  if (!json) console.log(`ferry dev: starting the embedded Kafka, PostgreSQL and schema registry (${dev.reset ? "fresh data" : `data in ${dev.dataDir}`})…`);
  const print = (event: string, text: string, data: object) => console.log(json ? JSON.stringify({ event, ...data }) : text);
  const schemaChanges = {
    onRegistered: (subjects: Array<{ subject: string; schema: string; version: number }>) =>
      print("dev:schemas-registered", `registry: ${subjects.map((s) => `${s.subject} v${s.version} (${s.schema})`).join(", ")}`, { subjects }),
    onRefused: (error: Error) => print("dev:schemas-refused", `registry: schema not registered: ${error.message}`, { message: error.message }),
  };
  let session: DevSession;
  try {
    session = await startDev({ settings, dataDir: dev.dataDir, schemasDir: dev.schemasDir, reset: dev.reset, log, schemaChanges, signal: stop.signal });
  } catch (e) {
    if (!(e instanceof StartAbortedError)) throw e;
    print("dev:start-aborted", `ferry dev: ${e.signal}: start-up aborted; what had started is stopped`, { signal: e.signal });
    return 0;
  }
  const { worker, config, state } = session;
  const events = worker.events;
  const handlers = worker.engine.workers.map((w) => ({ name: w.handler.name, topics: w.handler.topics, format: w.handler.format }));
  const adminUrl = config.admin.enabled ? `${worker.httpUrl}/admin` : undefined;
  if (json) console.log(JSON.stringify({ event: "dev:ready", ...state, adminUrl, handlers, subjects: session.registry.seeded }));
  else
    console.log(
      renderBanner({ state, dataDir: dev.dataDir, schemasDir: dev.schemasDir, handlers, seeded: session.registry.seeded, ...(adminUrl ? { adminUrl } : {}) }),
    );

  const tally = trackTotals(events, (line) => print("dev:tally", formatTallyLine(line, config.deadLetterSuffix), line));
  const offs = [
    events.on("handler:added", (e) => print("dev:handler-added", `handler ${e.handler} added (${e.file})`, e)),
    events.on("handler:replaced", (e) => print("dev:handler-replaced", `handler ${e.handler} reloaded (${e.file})`, e)),
    events.on("handler:removed", (e) => print("dev:handler-removed", `handler ${e.handler} removed`, e)),
    events.on("handler:rejected", (e) => print("dev:handler-rejected", `handler file ${e.file} rejected:\n  - ${e.problems.join("\n  - ")}`, e)),
  ];

  const signal = await stop.received;
  if (!json) console.log(`\nferry dev: ${signal}: draining and stopping (press Ctrl-C again to exit at once)`);
  tally.stop();
  for (const off of offs) off();
  const { drained } = await session.stop();
  return drained ? 0 : 1;
}
