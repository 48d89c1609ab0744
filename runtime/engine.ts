import type { Sql } from "postgres";
import type { FerryConfig } from "./config/load.ts";
import { createHandlerWorker, type HandlerWorker } from "./consume/handler-worker.ts";
import { connectDatabase } from "./db/connect.ts";
import { collectMigrations, migrate } from "./db/migrate.ts";
import { ensureDeadLetterTopics } from "./dlt/ensure-topics.ts";
import { loadHandlers } from "./handlers/load.ts";
import { schedulePruning } from "./inbox/prune.ts";
import { createConfluentKafka } from "./kafka/confluent.ts";
import { prepareHandlerAvro } from "./registry/handler-avro.ts";
import type { KafkaPort, ProducerPort } from "./kafka/port.ts";
import type { Logger } from "./log/logger.ts";
import type { HealthReport } from "./admin/app.ts";

export type EngineState = "starting" | "running" | "draining" | "stopped";

export interface Engine {
  readonly state: EngineState;
  readonly workers: readonly HandlerWorker[];
  liveness(): HealthReport;
  readiness(): Promise<HealthReport>;
  /** Stops fetching, lets in-flight batches finish (up to the shutdown timeout), leaves the groups. */
  stop(): Promise<{ drained: boolean }>;
}

/** Wires the engine from configuration: database, migrations, handlers, Kafka, one worker per handler. */
export async function startEngine(config: FerryConfig, log: Logger, kafka?: KafkaPort): Promise<Engine> {
  const handlers = await loadHandlers(config.handlersDir);
  if (handlers.length === 0) log.warn("handlers:none-found", { dir: config.handlersDir });
  // Before anything connects: a reader schema that cannot read what producers registered stops here.
  const avro = await prepareHandlerAvro(handlers, config.schemas, log);
  const sql: Sql = connectDatabase(config.database.url, { poolSize: config.database.poolSize });
  let producer: ProducerPort | undefined;
  const workers: HandlerWorker[] = [];
  let state: EngineState = "starting";
  try {
    await migrate(sql, await collectMigrations(config.handlersDir), log);
    const port = kafka ?? createConfluentKafka(config.kafka, log);
    const admin = await port.admin();
    try {
      await ensureDeadLetterTopics(admin, handlers, config, log);
    } finally {
      await admin.stop();
    }
    producer = await port.producer();
    for (const handler of handlers) {
      if (avro.held.has(handler.name)) continue; // not ready: never consume what it cannot read
      const decoding = avro.decoding.get(handler.name);
      workers.push(createHandlerWorker({ handler, kafka: port, producer, sql, settings: config, log, ...(decoding ? { avro: decoding } : {}) }));
    }
    for (const worker of workers) await worker.start();
  } catch (e) {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await producer?.stop().catch(() => undefined);
    await sql.end({ timeout: 5 });
    throw e;
  }
  const pruning = schedulePruning(sql, config.inbox, log);
  state = "running";
  log.info("engine:running", { handlers: handlers.map((h) => ({ name: h.name, topics: h.topics })) });

  return {
    get state() {
      return state;
    },
    workers,
    liveness: () => ({ ok: state !== "stopped", reasons: state === "stopped" ? ["the engine has stopped"] : [], state }),
    async readiness() {
      const reasons: string[] = [];
      if (state !== "running") reasons.push(`the engine is ${state}`);
      const db = await Promise.race([
        sql`select 1`.then(() => null, (e: Error) => e.message),
        Bun.sleep(2_000).then(() => "no answer within 2 s"),
      ]);
      if (db !== null) reasons.push(`database unreachable: ${db}`);
      for (const [name, problems] of avro.held) reasons.push(`handler ${name} is held back by the schema gate: ${problems.join("; ")}`);
      return { ok: reasons.length === 0, reasons, state, handlers: workers.map((w) => w.handler.name) };
    },
    async stop() {
      if (state !== "running") return { drained: true };
      state = "draining";
      pruning.stop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutMs);
      });
      const drained = (await Promise.race([Promise.allSettled(workers.map((w) => w.stop())), timedOut])) !== "timeout";
      clearTimeout(timer);
      await producer?.stop().catch(() => undefined);
      await sql.end({ timeout: 5 });
      state = "stopped";
      log.info("engine:stopped", { drained });
      return { drained };
    },
  };
}
