/**
 * ferry/testing: runs a handler on given events through the engine's own code — the batch runner
 * `ferry run` uses per partition batch (prepare: event id and decoding; process-batch: the unit of
 * work, business keys, the failure policy, dead-letter decisions) — against a fresh database with
 * Ferry's and the handler directory's migrations applied. Kafka is replaced at its two ports only:
 * records come from the test, and dead letters are kept instead of produced. Backoffs run on a
 * fake clock: a test with five retries takes no longer than one without.
 */
import { retryTopicsOf } from "../retry/topics.ts";
import path from "node:path";
import type { Sql } from "postgres";
import type { AvroType } from "../avro/parse-schema.ts";
import { loadTestingConfig, type TestingConfig } from "../config/load-testing.ts";
import { createBatchRunner } from "../consume/batch-runner.ts";
import type { FailureFields, PartitionState } from "../consume/partition-state.ts";
import { groupIdFor } from "../consume/handler-worker.ts";
import { collectMigrations, migrate } from "../db/migrate.ts";
import { advanceOffset } from "../db/sql/offsets.ts";
import { createEngineEvents } from "../engine-events.ts";
import { instrumentHandler } from "../handlers/instrument.ts";
import { loadHandlerFile } from "../handlers/load.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import { type KafkaRecord, type OutgoingRecord, partitionKey } from "../kafka/port.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { readerSchemaOf } from "../registry/handler-avro.ts";
import { migrationsKey } from "./pglite-snapshot.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";
import { localAvroDecoding, type TestEvent, toRecord } from "./test-records.ts";
import { createTestOutbox, type PublishedEvent, type TestOutbox } from "./test-outbox.ts";

export type { TestEvent } from "./test-records.ts";
export type { PublishedEvent } from "./test-outbox.ts";

interface Where {
  eventId: string | null;
  topic: string;
  partition: number;
  offset: string;
}

/** What became of one event, as `ferry run` would have settled it. */
export type EventOutcome = Where &
  (
    | { outcome: "applied"; attempts: number }
    /** Its event id was applied before: skipped without calling the handler. */
    | { outcome: "technical-duplicate" }
    /** `reason`: the `ferry-reason` header; `headers`: every header of the dead letter, the event's own included. */
    | { outcome: "dead-lettered"; reason: string; headers: Record<string, string>; attempts: number }
    /**
     * The failure is the environment's (or every event's), not this event's: `ferry run` would
     * wait and try again at this offset forever, never dead-letter it. The harness gives up after
     * `maxWaits` tries; this event and the partition's later ones in the same `send` stay unapplied.
     */
    | { outcome: "waiting"; failure: FailureFields }
    /**
     * `retry: { mode: "topics" }`: the attempt failed and the event went to `retryTopic`, where
     * `ferry run` runs it again as attempt `attempt` after `delayMs`. The harness does not consume
     * retry topics: the record is in `retried`.
     */
    | { outcome: "sent-to-retry"; retryTopic: string; attempt: number; delayMs: number }
  );

export interface HarnessOptions {
  /** Whose `migrations/*.sql` to apply after Ferry's. Default: the handler file's directory. */
  handlersDir?: string;
  /** "pglite": in memory, in this process; a postgres:// URL: a fresh database created on that server. Default: FERRY_TEST_DATABASE_URL, else PGlite. */
  database?: string;
  /** Tries of an event the environment keeps failing before it is reported `waiting`. Default 3. */
  maxWaits?: number;
  /** Settings as `ferry run` reads them (FERRY_EVENT_ID_HEADER, FERRY_BATCH_SIZE, ...). Default: process.env. */
  env?: Record<string, string | undefined>;
}

export interface TestHarness {
  readonly handler: LoadedHandler;
  /** postgres.js on the harness's database: read the handler's effects back. */
  readonly sql: Sql;
  /** "pglite" or "postgres". */
  readonly database: TestDatabase["kind"];
  /** Runs the events as one delivery (batches of FERRY_BATCH_SIZE per partition, in order); one outcome per event, in the order given. */
  send(events: TestEvent | TestEvent[]): Promise<EventOutcome[]>;
  /** Every dead letter so far, as `ferry run` would have produced it. */
  readonly deadLetters: OutgoingRecord[];
  /** Every record sent to a retry topic so far (`retry: { mode: "topics" }`), as `ferry run` would have produced it. */
  readonly retried: OutgoingRecord[];
  /** Every event the handler published with `ctx.publish` (committed calls only: a failed call publishes nothing), in order. */
  published(): Promise<PublishedEvent[]>;
  /** The fake clock: every backoff waited out (retries, contention, outages), in order. */
  readonly waits: Array<{ ms: number; offset?: string; why: "retry" | "contention" | "waiting" }>;
  /** The engine's log lines (JSON), for a failing test to print. */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Loads the handler file, creates its fresh database and applies the migrations. One per test file. */
export async function createHarness(handlerFile: string, options: HarnessOptions = {}): Promise<TestHarness> {
  const config = loadTestingConfig(options.env ?? process.env);
  const file = path.resolve(handlerFile);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: "debug", sink: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const serverUrl = options.database === "pglite" ? undefined : (options.database ?? config.databaseUrl);
  const migrations = await collectMigrations(options.handlersDir ?? path.dirname(file));
  const ferryOnly = migrations.filter((m) => m.scope === "ferry");
  // The database starts while the handler loads: PGlite compiles its WebAssembly off the main thread.
  const [handler, database] = await Promise.allSettled([
    loadHandler(file),
    createTestDatabase({
      ...(serverUrl ? { serverUrl } : {}),
      prepare: async (sql) => void (await migrate(sql, ferryOnly, log)),
      prepareKey: migrationsKey(ferryOnly),
      cacheDir: config.cacheDir,
    }),
  ]);
  if (handler.status === "rejected") {
    if (database.status === "fulfilled") await database.value.close();
    throw handler.reason;
  }
  if (database.status === "rejected") throw database.reason;
  const { loaded, reader } = handler.value;
  const db = database.value;
  try {
    // The handler directory's own, on the fresh database: a handler's tests prove its migrations too.
    await migrate(db.sql, migrations, log);
  } catch (e) {
    await db.close();
    throw e;
  }
  const outbox = await createTestOutbox(loaded, config.eventIdHeader);
  return assemble({ loaded, reader, db, config, log, logs, outbox, maxWaits: options.maxWaits ?? 3 });
}

/** The handler module, and its Avro reader schema when it reads Avro: what test values are encoded with. */
async function loadHandler(file: string): Promise<{ loaded: LoadedHandler; reader: AvroType | undefined }> {
  const loaded = await loadHandlerFile(file);
  return { loaded, reader: loaded.format === "avro" ? await readerSchemaOf(loaded) : undefined };
}

interface HarnessDeps {
  loaded: LoadedHandler;
  /** The handler's Avro reader schema: what test values are encoded with. */
  reader: AvroType | undefined;
  db: TestDatabase;
  config: TestingConfig;
  log: Logger;
  logs: Array<Record<string, unknown>>;
  outbox: TestOutbox;
  maxWaits: number;
}

/** The harness over its loaded handler and migrated database: the engine's batch runner and a lane's redelivery loop. */
function assemble({ loaded, reader, db, config, log, logs, outbox, maxWaits }: HarnessDeps): TestHarness {
  const events = createEngineEvents();
  const groupId = groupIdFor(config.groupPrefix, loaded.name);
  const handler = instrumentHandler(loaded, events, groupId);
  const abort = new AbortController();
  const deadLetters: OutgoingRecord[] = [];
  const retried: OutgoingRecord[] = [];
  const waits: TestHarness["waits"] = [];
  const partitions = new Map<string, PartitionState>();
  const nextOffset = new Map<string, bigint>();

  // Per delivery: what the engine said about each record (by "topic:partition:offset").
  let settled = new Map<string, EventOutcome>();
  let letters = new Map<string, Record<string, string>>();
  let retries = new Map<string, number>();
  const at = (topic: string, partition: number, offset: string) => `${topic}:${partition}:${offset}`;
  // Why the last batch stopped: an event's retry, or the partition waiting out the environment.
  let stoppedBy: "retry" | "waiting" = "retry";
  events.on("event:retry-scheduled", (e) => {
    const k = at(e.topic, e.partition, e.offset);
    retries.set(k, (retries.get(k) ?? 0) + 1);
    stoppedBy = "retry";
  });
  events.on("partition:waiting", () => {
    stoppedBy = "waiting";
  });

  const producer = {
    // The dead-letter port: acknowledged at once, as Kafka would with acks=all.
    async send(records: OutgoingRecord[]) {
      for (const r of records) {
        if (r.headers?.["ferry-retry-attempt"] !== undefined) {
          retried.push(r);
          continue;
        }
        deadLetters.push(r);
        const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, v.toString()]));
        letters.set(at(headers["ferry-source-topic"]!, Number(headers["ferry-source-partition"]), headers["ferry-source-offset"]!), headers);
      }
      return records.map((r, i) => ({ topic: r.topic, partition: 0, offset: String(deadLetters.length - records.length + i) }));
    },
    async stop() {},
  };

  const runBatch = createBatchRunner({
    handler,
    retryTopics: retryTopicsOf(handler),
    groupId,
    sql: db.sql,
    producer,
    settings: config,
    log,
    ...(handler.format === "avro" ? { avro: localAvroDecoding(reader) } : {}),
    emit: events.emit,
    partitions,
    // Kafka's commit: PostgreSQL already holds the offset, which is what the harness reads.
    offerToKafka: async () => {},
    advanceOffset: (position) => advanceOffset(db.sql, groupId, position),
    outbox: outbox.writer,
    signal: abort.signal,
    sleep: async (ms) => {
      waits.push({ ms, why: "contention" });
    },
    onEvent(result, record) {
      const where = whereOf(record, config.eventIdHeader);
      const k = at(record.topic, record.partition, record.offset);
      const attempts = (retries.get(k) ?? 0) + 1;
      if (result.kind === "applied") settled.set(k, { ...where, outcome: "applied", attempts });
      else if (result.kind === "sent-to-retry")
        settled.set(k, { ...where, outcome: "sent-to-retry", retryTopic: result.topic, attempt: result.attempt, delayMs: result.delayMs });
      else if (result.kind === "technical-duplicate") settled.set(k, { ...where, outcome: "technical-duplicate" });
      else {
        const headers = letters.get(k) ?? {};
        const reason = result.kind === "dead-lettered" ? result.reason : result.kind === "key-rejected" ? result.error.reason : "functional-duplicate";
        settled.set(k, { ...where, outcome: "dead-lettered", reason, headers, attempts: Number(headers["ferry-attempts"] ?? attempts) });
      }
    },
  });

  /** One partition's records, redelivered from where the engine stopped, as the lane consumer does. */
  async function deliver(records: KafkaRecord[]) {
    let queue = records;
    let waited = 0;
    for (let deliveries = 0; queue.length > 0; deliveries++) {
      // Attempts and waits are bounded: past this the engine itself would be looping.
      if (deliveries > 10_000) throw new Error(`ferry/testing: ${partitionKey(queue[0]!)} was delivered ${deliveries} times without settling`);
      const batch = queue.slice(0, config.batchSize);
      const last = batch[batch.length - 1]!;
      const progress = await runBatch({
        topic: last.topic,
        partition: last.partition,
        records: batch,
        highWatermark: (BigInt(last.offset) + 1n).toString(),
        isStale: () => false,
        stopping: abort.signal,
      });
      if (!progress) {
        queue = queue.slice(batch.length);
        continue;
      }
      const why = stoppedBy;
      waits.push({ ms: progress.resumeAfterMs, offset: progress.stopAt, why });
      queue = queue.slice(queue.findIndex((r) => r.offset === progress.stopAt));
      if (why === "waiting" && ++waited >= maxWaits) {
        const failure = partitions.get(partitionKey(last))?.lastFailure;
        const { at: _at, offset: _offset, ...fields } = failure ?? { at: 0, offset: "", source: "ferry", errorClass: "Error", error: "unknown" };
        for (const r of queue) settled.set(at(r.topic, r.partition, r.offset), { ...whereOf(r, config.eventIdHeader), outcome: "waiting", failure: fields });
        return;
      }
    }
  }

  return {
    handler: loaded,
    sql: db.sql,
    database: db.kind,
    deadLetters,
    retried,
    published: () => outbox.published(db.sql),
    waits,
    logs,
    async send(given) {
      const list = Array.isArray(given) ? given : [given];
      settled = new Map();
      letters = new Map();
      retries = new Map();
      const records = list.map((event) => {
        const topic = event.topic ?? handler.topics[0]!;
        const key = `${topic}:${event.partition ?? 0}`;
        const offset = nextOffset.get(key) ?? 0n;
        nextOffset.set(key, offset + 1n);
        return toRecord(handler, event, offset, { eventIdHeader: config.eventIdHeader, reader });
      });
      const byPartition = Map.groupBy(records, (r) => partitionKey(r));
      for (const part of byPartition.values()) await deliver(part);
      return records.map((r) => {
        const outcome = settled.get(at(r.topic, r.partition, r.offset));
        if (!outcome) throw new Error(`the engine reported nothing for ${at(r.topic, r.partition, r.offset)}: a bug of ferry/testing`);
        return outcome;
      });
    },
    async close() {
      abort.abort();
      await db.close();
    },
  };
}

function whereOf(record: KafkaRecord, eventIdHeader: string): Where {
  const id = record.headers[eventIdHeader];
  return { eventId: id === undefined ? null : id.toString(), topic: record.topic, partition: record.partition, offset: record.offset };
}
