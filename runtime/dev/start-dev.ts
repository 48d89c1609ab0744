/**
 * `ferry dev`: the production engine, wired to embedded parts instead of services — librdkafka's
 * mock cluster, PGlite behind the PostgreSQL wire protocol, an in-memory schema registry. Only
 * the wiring differs from `ferry run`: startEngine, the consumers, the inbox and the dead letter
 * path are the same code.
 */
import { forgetAllOffsetsStatements } from "../db/sql/offsets.ts";
import { rm } from "node:fs/promises";
import path from "node:path";
import { loadConfig, type FerryConfig } from "../config/load.ts";
import { coerceError, throwIfStartAborted } from "../errors.ts";
import { listHandlerFiles } from "../handlers/load.ts";
import { createConfluentKafka } from "../kafka/confluent.ts";
import type { Logger } from "../log/logger.ts";
import { startDevRegistry, type DevRegistry, type SchemaChanges } from "./dev-registry.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.ts";
import { startMockCluster, type MockCluster } from "./mock-cluster.ts";
import { mockClusterKafka } from "./mock-kafka.ts";
import { removeDevState, writeDevState, type DevState } from "./state-file.ts";
import { startWorker, type Worker } from "../worker.ts";

export interface DevOptions {
  /** Environment-style settings (FERRY_*), as for `ferry run`; the connection settings are set here. */
  settings: Record<string, string | undefined>;
  dataDir: string;
  schemasDir: string;
  /** Start from an empty database. */
  reset: boolean;
  log: Logger;
  /** Told about schemas registered or refused while dev runs. */
  schemaChanges?: SchemaChanges;
  /**
   * A stop signal. Until the worker runs, it aborts the start-up at the next step: what started
   * is stopped again and StartAbortedError is thrown. Once running, stopping is the session's `stop()`.
   */
  signal?: AbortSignal;
}

export interface DevSession {
  config: FerryConfig;
  worker: Worker;
  state: DevState;
  registry: DevRegistry;
  stop(): Promise<{ drained: boolean }>;
}

export async function startDev({ settings, dataDir, schemasDir, reset, log, schemaChanges, signal }: DevOptions): Promise<DevSession> {
  if (reset) await rm(dataDir, { recursive: true, force: true });
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((e: unknown) => log.warn("dev:stop-failed", { error: coerceError(e) }));
  };
  try {
    const { handlersDir, schemas } = loadConfig({ ...settings, ...placeholders });
    await listHandlerFiles(handlersDir); // a wrong directory fails before anything starts
    const strategy = schemas.strategy;
    const registry: DevRegistry = await startDevRegistry({ schemasDir, strategy }, schemaChanges);
    stops.push(() => registry.stop());
    throwIfStartAborted(signal);
    const cluster: MockCluster = await startMockCluster({ brokers: 3 });
    stops.push(() => cluster.stop());
    throwIfStartAborted(signal);
    const postgres: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir: path.join(dataDir, "pgdata") });
    stops.push(() => postgres.stop());
    await forgetOffsets(postgres);
    throwIfStartAborted(signal);

    const config = loadConfig({
      FERRY_DATABASE_POOL_SIZE: "4",
      // The embedded PostgreSQL and Kafka live in this process: its memory is not the worker's alone.
      FERRY_MEMORY_TARGET_MB: "0",
      // Its window shows a line per batch already.
      FERRY_PROGRESS_INTERVAL_MS: "0",
      ...settings,
      FERRY_KAFKA_BROKERS: cluster.bootstrap.join(","),
      FERRY_KAFKA_SECURITY_PROTOCOL: "plaintext",
      FERRY_DATABASE_URL: postgres.url,
      FERRY_SCHEMA_REGISTRY_URL: registry.url,
    });
    const kafka = mockClusterKafka(createConfluentKafka(config.kafka, log), cluster);
    const worker = await startWorker(config, log, { kafka, signal, embeddedDatabase: true });
    let drained = true;
    stops.push(async () => ({ drained } = await worker.stop()));
    const state: DevState = {
      pid: process.pid,
      brokers: cluster.bootstrap,
      databaseUrl: postgres.url,
      registryUrl: registry.url,
      httpUrl: worker.httpUrl,
      handlersDir: path.resolve(config.handlersDir),
    };
    await writeDevState(dataDir, state);
    stops.push(() => removeDevState(dataDir));
    return {
      config,
      worker,
      state,
      registry,
      async stop() {
        await stopAll();
        return { drained };
      },
    };
  } catch (e) {
    await stopAll();
    throwIfStartAborted(signal, e);
    throw e;
  }
}

/** Lets loadConfig validate the other settings before the embedded parts have addresses. */
const placeholders = { FERRY_KAFKA_BROKERS: "127.0.0.1:9092", FERRY_DATABASE_URL: "postgres://127.0.0.1/dev" };

/**
 * The mock cluster starts empty every time, but the database is kept: positions Ferry stored for
 * the previous run's partitions would skip the new run's first records. Inbox rows and business
 * keys stay, so an event id or order seen before is still a duplicate.
 */
async function forgetOffsets(postgres: EmbeddedPostgres): Promise<void> {
  const [row] = (await postgres.db.query<{ exists: boolean }>(forgetAllOffsetsStatements.exists)).rows;
  if (row?.exists) await postgres.db.exec(forgetAllOffsetsStatements.forget);
}
