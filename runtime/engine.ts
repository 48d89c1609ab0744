import type { Sql } from "postgres";
import type { FerryConfig } from "./config/load.ts";
import { createHandlerWorker, groupIdFor, type HandlerWorker } from "./consume/handler-worker.ts";
import { createSlots } from "./consume/slots.ts";
import type { StalledPartition } from "./consume/stall-watch.ts";
import { connectDatabase } from "./db/connect.ts";
import { collectMigrations, migrate } from "./db/migrate.ts";
import { ensureDeadLetterTopics } from "./dlt/ensure-topics.ts";
import { leftoverRetryTopics, retryTopicsOf } from "./retry/topics.ts";
import { MISSING_TOPIC_CHECK_MS, watchMissingTopics } from "./consume/missing-topics.ts";
import { watchPartitionGrowth } from "./consume/partition-growth.ts";
import { loadHandlerSet } from "./handlers/load.ts";
import { schedulePruning } from "./inbox/prune.ts";
import { createConfluentKafka } from "./kafka/confluent.ts";
import { connectAvroRegistry, prepareHandlerAvro } from "./registry/handler-avro.ts";
import type { KafkaPort, ProducerPort } from "./kafka/port.ts";
import type { Logger } from "./log/logger.ts";
import type { HealthReport } from "./health-report.ts";
import { createEngineControls, type EngineControls } from "./engine-controls.ts";
import { createEngineEvents, type EngineEvents } from "./engine-events.ts";
import { coerceError, SchemaGateError, throwIfStartAborted } from "./errors.ts";
import { finishedWithin } from "./finished-within.ts";
import { createHandlerPool, type HandlerPool } from "./handler-pool.ts";
import { type BatchFit, batchForHandlers } from "./memory/handler-batch.ts";
import { assertSessionsKept } from "./db/session-check.ts";
import { kafkaRunningDependency } from "./health/kafka-check.ts";
import { postgresDependency } from "./health/postgres-check.ts";
import { watchDependencies } from "./health/watch.ts";
import { instrumentHandler } from "./handlers/instrument.ts";
import type { LoadedHandler } from "./handlers/validate.ts";
import type { AdminPort } from "./kafka/port.ts";
import type { AvroDecoding } from "./registry/handler-avro.ts";
import { createFaultInjector } from "./faults/inject.ts";
import { type Encode, prepareEncoders } from "./outbox/encode.ts";
import { createOutboxRelay, type OutboxRelay } from "./outbox/relay.ts";
import { createOutboxWriter } from "./outbox/writer.ts";
import { outboxReadinessReason } from "./outbox/readiness.ts";
import { within } from "./health/bounded.ts";

export type EngineState = "starting" | "running" | "draining" | "stopped";

export interface Engine {
  readonly state: EngineState;
  readonly workers: readonly HandlerWorker[];
  /** What the engine does, as typed events: metrics, health and the admin API subscribe. */
  readonly events: EngineEvents;
  /** The running handlers: hot-add swaps one at a time through this. */
  readonly handlers: HandlerPool;
  /** Narrow operator controls: list, pause, resume, dead letters, replay. */
  readonly controls: EngineControls;
  /** Handler files left out at start (FERRY_HANDLER_GATE=not-ready): what the watch, or /readyz, reports. */
  readonly rejectedAtStart: ReadonlyArray<{ file: string; problems: string[] }>;
  /** The handlers the start ran and each one's batch, fitted for them all (memory/handler-batch.ts). */
  readonly startFit: BatchFit & { handlers: number };
  liveness(): HealthReport;
  readiness(): Promise<HealthReport>;
  /** Stops fetching, lets in-flight batches finish (up to the shutdown timeout), leaves the groups. */
  stop(): Promise<{ drained: boolean }>;
}

export interface EngineOptions {
  /** Ferry's librdkafka port unless given (`ferry dev` hands in the mock cluster's). */
  kafka?: KafkaPort;
  events?: EngineEvents;
  /**
   * A stop signal. Until the engine runs, it aborts the start-up at the next step: what started is
   * stopped again and StartAbortedError is thrown. Once running, stopping is the caller's `stop()`.
   */
  signal?: AbortSignal;
  /**
   * `ferry dev`'s PGlite: one backend session that every connection shares by design, so the check
   * for a pooler that moves sessions (db/session-check.ts) is skipped (it would wait on itself).
   */
  embeddedDatabase?: boolean;
}

/** Wires the engine from configuration: database, migrations, handlers, Kafka, one worker per handler. */
export async function startEngine(
  config: FerryConfig,
  log: Logger,
  {
    kafka,
    events = createEngineEvents((name, e) => log.error("events:listener-failed", { event: name, error: coerceError(e) })),
    signal,
    embeddedDatabase = false,
  }: EngineOptions = {},
): Promise<Engine> {
  throwIfStartAborted(signal);
  // Said first: a module slow to import (its top-level code runs here) is then not a silent start-up.
  log.info("handlers:loading", { dir: config.handlersDir, importTimeoutMs: config.handlerImportTimeoutMs });
  const { handlers, rejected } = await loadHandlerSet(config.handlersDir, { importTimeoutMs: config.handlerImportTimeoutMs, signal });
  if (rejected[0] && config.handlerGate === "fail") throw rejected[0];
  for (const r of rejected) {
    log.error("handlers:rejected", { file: r.file, problems: r.problems, running: "nothing runs from this file", gate: config.handlerGate });
  }
  if (handlers.length === 0) log.warn("handlers:none-found", { dir: config.handlersDir });
  // Before anything connects: a reader schema that cannot read what producers registered stops here.
  const avroRegistry = connectAvroRegistry(config.schemas);
  const avro = await prepareHandlerAvro(handlers, config.schemas, log, avroRegistry);
  throwIfStartAborted(signal);
  const sql: Sql = connectDatabase(config.database, { poolSize: config.database.poolSize });
  // Events run side by side (a handler's `concurrency`) wait for a connection here, not in the driver.
  const slots = createSlots(config.database.poolSize);
  let producer: ProducerPort | undefined;
  let admin: AdminPort | undefined;
  let state: EngineState = "starting";
  const port = kafka ?? createConfluentKafka(config.kafka, log, config.consumer);
  const decodings = new Map(avro.decoding);
  // ctx.publish: each handler's declared topics' encoders; the relay sends what committed.
  const encoders = new Map<string, Map<string, Encode>>();
  let relay: OutboxRelay | undefined;
  const outbox = createOutboxWriter({ eventIdHeader: config.eventIdHeader, encoders, wake: (rows) => relay?.committed(rows) });
  const prepareOutbox = async (handler: LoadedHandler) => {
    encoders.set(handler.name, await prepareEncoders(handler, avroRegistry?.client, config.schemas.strategy));
  };
  // Topics handlers consume that do not exist yet: looked up every few seconds until they do.
  const missingTopics = watchMissingTopics({
    partitionCounts: (topics) => admin!.partitionCounts(topics),
    log,
    async onAppeared(topic, waitedMs) {
      const consumers = pool.list().filter((w) => w.handler.topics.includes(topic));
      // Its dead letter topic, and the retry topics of the handlers that retry through topics.
      const needs = [{ name: "", topics: [topic], retry: {} }, ...consumers.map((w) => ({ ...w.handler, topics: [topic] }))];
      const { missing } = await ensureDeadLetterTopics(admin!, needs, config, log);
      if (missing.length > 0) throw new Error(`topic ${topic} is gone again`);
      await Promise.all(consumers.map((w) => w.refreshTopics([topic, ...retryTopicsOf({ ...w.handler, topics: [topic] }).map((t) => t.topic)])));
      log.info("topic:appeared", { topic, waitedMs, handlers: consumers.map((w) => w.handler.name) });
    },
  });
  // Partitions added to a consumed topic: taken up within seconds, not at librdkafka's 5-minute refresh.
  let partitionGrowth: { stop(): void } | undefined;
  const watchGrowth = () =>
    watchPartitionGrowth({
      topics: () => [...new Set(pool.list().flatMap((w) => w.handler.topics))],
      partitionCounts: (topics) => admin!.partitionCounts(topics),
      log,
      // Deleted under the running handlers: say so, and take it up within seconds if it is created again
      // (librdkafka, once it dropped the topic from the assignment, would notice only at its 5-minute refresh).
      onGone(topic) {
        const handlers = pool.list().filter((w) => w.handler.topics.includes(topic));
        log.warn("topic:deleted", {
          topic,
          handlers: handlers.map((w) => w.handler.name),
          hint: `its handlers wait for it: Ferry looks every ${MISSING_TOPIC_CHECK_MS / 1000} s and, once it is created again, reads it from its start`,
        });
        missingTopics.add([topic]);
      },
      async onGrown(growth) {
        const consumers = pool.list().filter((w) => w.handler.topics.includes(growth.topic));
        await Promise.all(consumers.map((w) => w.refreshTopics([growth.topic])));
        log.info("topic:partitions-added", { ...growth, handlers: consumers.map((w) => w.handler.name) });
        // A retry goes to its event's partition number: one on a new partition needs it in the retry topic too.
        const retryTopics = consumers.flatMap((w) => retryTopicsOf({ ...w.handler, topics: [growth.topic] }).map((t) => t.topic));
        const counts = retryTopics.length > 0 ? await admin!.partitionCounts(retryTopics) : new Map<string, number>();
        const short = retryTopics.filter((t) => (counts.get(t) ?? 0) < growth.to);
        if (short.length > 0) {
          log.error("topic:retry-topics-too-small", {
            topic: growth.topic,
            partitions: growth.to,
            retryTopics: short.map((t) => `${t} (${counts.get(t) ?? "missing"})`),
            why: "a retry goes to its event's partition number: an event on a new partition that fails cannot be sent to its retry topic, and its partition waits",
            action: `add partitions to them (ferry topology apply --handlers <dir>, or kafka-topics --alter --partitions ${growth.to})`,
          });
        }
      },
    });
  /** `sharing`: how many handlers run in this worker, this one included (their batches share a memory limit). */
  const createWorker = async (handler: LoadedHandler, sharing: number) => {
    const decoding = decodings.get(handler.name);
    const leftovers = leftoverRetryTopics(handler, await admin!.listTopics());
    if (leftovers.length > 0) {
      log.warn("retry:leftover-topics", {
        handler: handler.name,
        topics: leftovers.map((t) => t.topic),
        why: "retry topics of this handler that its retry setting no longer has (delays shortened, or back to in-place): their events are still run when due, and dead-lettered if they fail; delete the topics once they are read",
      });
    }
    return createHandlerWorker({
      leftoverRetryTopics: leftovers,
      topicOffsets: (topic) => admin!.fetchTopicOffsets(topic),
      handler: instrumentHandler(handler, events, groupIdFor(config.groupPrefix, handler.name)),
      kafka: port,
      producer: producer!,
      sql,
      settings: { ...config, ...batchForHandlers(config, sharing) },
      log,
      events,
      outbox,
      slots,
      ...(decoding ? { avro: decoding } : {}),
    });
  };
  // A handler added or changed while running passes the checks the start made for all of them.
  const prepareLater = async (handler: LoadedHandler) => {
    const checked = await prepareHandlerAvro([handler], config.schemas, log, avroRegistry);
    const held = checked.held.get(handler.name);
    if (held) throw new SchemaGateError(held);
    await migrate(sql, await collectMigrations(config.handlersDir), log);
    await prepareOutbox(handler);
    missingTopics.add((await ensureDeadLetterTopics(admin!, [handler], config, log)).missing);
    const decoding: AvroDecoding | undefined = checked.decoding.get(handler.name);
    if (decoding) decodings.set(handler.name, decoding);
    else decodings.delete(handler.name);
    // Handlers already running keep the batch they started with; a new one gets its share.
    return createWorker(handler, pool.list().length + (pool.get(handler.name) ? 0 : 1));
  };
  // Those the start runs: held handlers never consume.
  const startingHandlers = handlers.filter((h) => !avro.held.has(h.name)).length;
  const startFit = { handlers: startingHandlers, ...batchForHandlers(config, startingHandlers) };
  const pool: HandlerPool = createHandlerPool({
    prepare: async (handler) => (state === "starting" ? createWorker(handler, startingHandlers) : prepareLater(handler)),
    events,
    log,
  });
  // Each step starts only if no stop signal came during the one before; a failure, or a signal,
  // stops what did start: consumers that joined leave their groups, then the clients and the pool close.
  try {
    // Before the migration lock: through a transaction-mode pooler it could be held for good.
    if (!embeddedDatabase) await assertSessionsKept(config.database);
    throwIfStartAborted(signal);
    await migrate(sql, await collectMigrations(config.handlersDir), log, { signal });
    throwIfStartAborted(signal);
    // Kept open: readiness, consumer lag and hot-added handlers' dead letter topics use it.
    admin = await port.admin();
    throwIfStartAborted(signal);
    const { missing } = await ensureDeadLetterTopics(admin, handlers, config, log);
    await warnOfMissingPublishTopics(admin, handlers, log);
    producer = await port.producer();
    // Any replica relays any handler's rows: started even with no publishing handler here.
    relay = createOutboxRelay({
      sql,
      producer,
      log,
      events,
      settings: config.outbox,
      ...(config.faultInject ? { faults: createFaultInjector(config.faultInject) } : {}),
    });
    await relay.start();
    for (const handler of handlers) {
      throwIfStartAborted(signal);
      if (avro.held.has(handler.name)) continue; // not ready: never consume what it cannot read
      // Before it consumes: an Avro schema it publishes with that is not registered stops the start here.
      await prepareOutbox(handler);
      await pool.add(handler);
    }
    throwIfStartAborted(signal);
    // Once the handlers subscribed: a topic appearing now is taken up by them.
    missingTopics.add(missing);
    partitionGrowth = watchGrowth();
  } catch (e) {
    missingTopics.stop();
    partitionGrowth?.stop();
    await pool.stopAll();
    await relay?.stop();
    await producer?.stop().catch(() => undefined);
    await admin?.stop().catch(() => undefined);
    await sql.end({ timeout: 5 });
    throwIfStartAborted(signal, e);
    throw e;
  }
  const started = relay!;
  const controls = createEngineControls({
    pool,
    admin,
    sql,
    kafka: port,
    config,
    log,
    decoding: (name) => decodings.get(name),
    outbox,
    outboxBacklog: () => started.backlog(),
  });
  const pruning = schedulePruning(sql, { ...config.inbox, outboxRetentionHours: config.outbox.retentionHours }, log);
  // Bounded checks of PostgreSQL and Kafka for readiness, and an outage log even when nobody asks.
  const dependencies = watchDependencies([postgresDependency(config.database), kafkaRunningDependency(config.kafka, () => admin!.listTopics())], {
    log,
    checkTimeoutMs: config.health.checkTimeoutMs,
    intervalMs: config.health.checkIntervalMs,
  });
  dependencies.start();
  // A batch that failed or a partition waiting on the environment: look now, not at the next interval.
  const nudges = [events.on("batch:failed", () => dependencies.nudge()), events.on("partition:waiting", () => dependencies.nudge())];
  const stopNudging = () => {
    for (const off of nudges) off();
  };
  state = "running";
  log.info("engine:running", {
    handlers: handlers.map((h) => ({ name: h.name, topics: h.topics })),
    batchSize: config.batchSize,
    partitionConcurrency: config.partitionConcurrency,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    ...(config.consumer.groupInstanceId ? { groupInstanceId: config.consumer.groupInstanceId } : {}),
  });

  return {
    get state() {
      return state;
    },
    get workers() {
      return pool.list();
    },
    events,
    handlers: pool,
    controls,
    rejectedAtStart: rejected.map((r) => ({ file: r.file, problems: r.problems })),
    startFit,
    liveness: () => ({ ok: state !== "stopped", reasons: state === "stopped" ? ["the engine has stopped"] : [], state }),
    async readiness() {
      const reasons: string[] = [];
      if (state !== "running") reasons.push(`the engine is ${state}`);
      // Side by side: each is bounded by the check timeout, and /readyz by about one of them.
      const [dependencyReasons, backlog] = await Promise.all([
        dependencies.check(),
        within(started.backlog(), config.health.checkTimeoutMs).catch(() => undefined),
      ]);
      reasons.push(...dependencyReasons);
      const missing = new Set(missingTopics.missing());
      for (const w of pool.list()) {
        if (w.joined) continue;
        const waitingFor = w.handler.topics.filter((t) => missing.has(t));
        reasons.push(
          waitingFor.length > 0
            ? `handler ${w.handler.name} waits for topic ${waitingFor.join(", ")} to be created (looked up every ${MISSING_TOPIC_CHECK_MS / 1000} s)`
            : `handler ${w.handler.name} has no partition assignment yet from group ${w.groupId}`,
        );
      }
      for (const w of pool.list()) for (const p of w.stalled()) reasons.push(describeStall(w.handler.name, p));
      for (const [name, problems] of avro.held) reasons.push(`handler ${name} is held back by the schema gate: ${problems.join("; ")}`);
      const outboxReason = outboxReadinessReason(backlog, config.outbox.readyAgeMs);
      if (outboxReason) reasons.push(outboxReason);
      return { ok: reasons.length === 0, reasons, state, handlers: pool.list().map((w) => w.handler.name) };
    },
    async stop() {
      if (state !== "running") return { drained: true };
      state = "draining";
      pruning.stop();
      missingTopics.stop();
      partitionGrowth?.stop();
      stopNudging();
      dependencies.stop();
      // A static member does not leave: a restart with the same FERRY_KAFKA_GROUP_INSTANCE_ID takes its
      // partitions back without a rebalance (until then, up to the session timeout, they wait for it).
      const drained = await finishedWithin(pool.stopAll({ leaveGroup: false }), config.shutdownTimeoutMs);
      // After the handlers: what they committed last is sent before the producer closes (or by the next relay).
      // A round stuck on a send (a missing topic, a broker down) is abandoned after a few seconds: its rows are sent again later.
      await relay?.stop(Math.min(config.shutdownTimeoutMs, 5_000));
      await producer?.stop().catch(() => undefined);
      await admin?.stop().catch(() => undefined);
      await sql.end({ timeout: 5 });
      state = "stopped";
      log.info("engine:stopped", { drained });
      return { drained };
    },
  };
}

/**
 * A topic a handler publishes to that does not exist: its events would wait in the outbox until it
 * is created (the relay holds that topic only). Said at start, where it is cheap to fix.
 */
async function warnOfMissingPublishTopics(admin: AdminPort, handlers: readonly LoadedHandler[], log: Logger): Promise<void> {
  const topics = [...new Set(handlers.flatMap((h) => h.publishes.map((p) => p.topic)))];
  if (topics.length === 0) return;
  const existing = await admin.partitionCounts(topics);
  for (const h of handlers) {
    const missing = h.publishes.map((p) => p.topic).filter((t) => !existing.has(t));
    if (missing.length > 0) {
      log.warn("outbox:topic-missing", {
        handler: h.name,
        topics: missing,
        hint: "what it publishes there waits in the outbox until the topic exists (the other topics' events go on): create it (ferry topology apply)",
      });
    }
  }
}

/** One line an operator can act on: which partition, where, for how long, and the last error. */
export function describeStall(handler: string, p: StalledPartition): string {
  const seconds = Math.round((Date.now() - p.since) / 1000);
  const at = p.offset === null ? "" : ` at offset ${p.offset}`;
  const last = p.lastFailure
    ? `; last error: ${p.lastFailure.errorClass}${p.lastFailure.errorCode ? ` ${p.lastFailure.errorCode}` : ""}: ${p.lastFailure.error}`
    : "; no error: its batch has been running all this time";
  return `handler ${handler}: partition ${p.topic}:${p.partition} has not advanced for ${seconds} s${at}${last}`;
}
