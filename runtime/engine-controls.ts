import type { Sql } from "postgres";
import type { FerryConfig } from "./config/load.ts";
import { decodeValue } from "./consume/prepare.ts";
import type { HandlerWorker, PauseTarget } from "./consume/handler-worker.ts";
import type { StalledPartition } from "./consume/stall-watch.ts";
import { countInboxRows } from "./db/sql/inbox.ts";
import { type OutboxBacklog, outboxBacklog } from "./db/sql/outbox.ts";
import { readGroupOffsets } from "./db/sql/offsets.ts";
import { readDeadLetters } from "./dlt/browse.ts";
import { deadLetterTopic, type DeadLetter } from "./dlt/dead-letter.ts";
import { replayDeadLetters, type ReplayResult } from "./dlt/replay.ts";
import { coerceError, ControlRefusedError, UnknownHandlerError } from "./errors.ts";
import type { HandlerPool } from "./handler-pool.ts";
import { partitionKey, type AdminPort, type KafkaPort } from "./kafka/port.ts";
import type { OutboxWriter } from "./outbox/writer.ts";
import type { Logger } from "./log/logger.ts";
import type { AvroDecoding } from "./registry/handler-avro.ts";
import { traceFieldsOf } from "./trace/traceparent.ts";

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Assigned to this process now (another replica may own it). */
  assigned: boolean;
  paused: boolean;
  /** The next offset to apply, from PostgreSQL; null before the group applied anything there. */
  next: string | null;
  /** The partition's end (high watermark). */
  end: string;
  /** Records between `next` (or the partition's start) and its end. */
  lag: number;
  /** Set when this process holds the partition and it has not advanced for FERRY_PARTITION_STALL_MS. */
  stalled?: { since: string; offset: string | null; lastError?: string };
}

export interface HandlerStatus {
  name: string;
  file: string;
  topics: string[];
  groupId: string;
  state: "joining" | "running" | "paused" | "partly-paused";
  partitions: PartitionStatus[];
}

/** A dead letter as an operator sees it: why, where from, the original headers and the decoded value. */
export interface DeadLetterView extends Omit<DeadLetter, "original"> {
  source: { topic: string; partition: number; offset: string; timestamp: number };
  key: string | null;
  headers: Record<string, string>;
  value: unknown;
  valueError?: string;
  traceId?: string;
}

export interface EngineControls {
  listHandlers(): Promise<HandlerStatus[]>;
  pause(handler: string, target?: PauseTarget): void;
  resume(handler: string, target?: PauseTarget): void;
  /** The handler's dead letters, newest first (reads its dead letter topics to their current end). */
  deadLetters(handler: string, options?: { limit?: number }): Promise<DeadLetterView[]>;
  /** Replays the dead letters with these event ids; `dryRun` rolls every transaction back. */
  replay(handler: string, eventIds: string[], dryRun: boolean): Promise<ReplayResult[]>;
  /** Inbox rows per handler (what technical deduplication keeps until pruned). */
  inboxRows(): Promise<Array<{ handler: string; rows: number }>>;
  /**
   * Events handlers published that the relay has not sent yet, the age of the oldest (ms), the
   * rows set aside (Kafka refused the record itself), and the age past which /readyz fails
   * (FERRY_OUTBOX_READY_AGE_MS).
   */
  outbox(): Promise<OutboxBacklog & { readyAgeMs: number }>;
}

/** Operator controls over the running engine. HTTP-free: the admin API calls these. */
export function createEngineControls(deps: {
  pool: HandlerPool;
  admin: AdminPort;
  sql: Sql;
  kafka: KafkaPort;
  config: FerryConfig;
  log: Logger;
  decoding(handler: string): AvroDecoding | undefined;
  /** Where replayed handlers' `ctx.publish` writes. */
  outbox?: OutboxWriter;
  /** Unsent outbox rows, the age of the oldest and the rows set aside. */
  outboxBacklog?(): Promise<OutboxBacklog>;
}): EngineControls {
  const { pool, config } = deps;
  const worker = (name: string): HandlerWorker => {
    const w = pool.get(name);
    if (!w)
      throw new UnknownHandlerError(
        `no running handler is named "${name}"; running: ${
          pool
            .list()
            .map((x) => x.handler.name)
            .join(", ") || "none"
        }`,
      );
    return w;
  };
  const checked = (w: HandlerWorker, target: PauseTarget = {}): PauseTarget => {
    if (target.topic !== undefined && !w.handler.topics.includes(target.topic)) {
      throw new ControlRefusedError(`handler ${w.handler.name} does not consume topic "${target.topic}"; its topics: ${w.handler.topics.join(", ")}`);
    }
    if (target.partitions && (target.topic === undefined || !target.partitions.every((p) => Number.isInteger(p) && p >= 0))) {
      throw new ControlRefusedError("partitions must be whole numbers ≥ 0 and need a topic");
    }
    return target;
  };
  const letters = async (w: HandlerWorker): Promise<DeadLetter[]> => {
    const all: DeadLetter[] = [];
    for (const topic of w.handler.topics) all.push(...(await readDeadLetters(deps.kafka, deadLetterTopic(topic, config.deadLetterSuffix))));
    return all.filter((l) => l.handler === w.handler.name);
  };

  return {
    async listHandlers() {
      const workers = pool.list();
      const topics = [...new Set(workers.flatMap((w) => w.handler.topics))];
      const ends = new Map(await Promise.all(topics.map(async (t) => [t, await deps.admin.fetchTopicOffsets(t).catch(() => [])] as const)));
      const rows =
        workers.length === 0
          ? []
          : await readGroupOffsets(
              deps.sql,
              workers.map((w) => w.groupId),
            );
      const next = new Map(rows.map((r) => [`${r.group_id}/${partitionKey(r)}`, r.next_offset]));
      return workers.map((w) => {
        const assigned = new Map(w.assignment().map((a) => [partitionKey(a), a.paused]));
        const stalled = new Map(w.stalled().map((s) => [partitionKey(s), s]));
        const partitions = w.handler.topics.flatMap((topic) =>
          (ends.get(topic) ?? []).map((p): PartitionStatus => {
            const key = partitionKey({ topic, partition: p.partition });
            const at = next.get(`${w.groupId}/${key}`) ?? null;
            const lag = BigInt(p.high) - BigInt(at ?? p.low);
            return {
              topic,
              partition: p.partition,
              assigned: assigned.has(key),
              paused: assigned.get(key) ?? false,
              next: at,
              end: p.high,
              lag: Number(lag > 0n ? lag : 0n),
              ...stallOf(stalled.get(key)),
            };
          }),
        );
        const paused = partitions.filter((p) => p.assigned && p.paused).length;
        const state = w.paused ? "paused" : paused > 0 ? "partly-paused" : w.joined ? "running" : "joining";
        return { name: w.handler.name, file: w.handler.file, topics: w.handler.topics, groupId: w.groupId, state, partitions };
      });
    },
    pause(name, target) {
      const w = worker(name);
      w.pause(checked(w, target));
    },
    resume(name, target) {
      const w = worker(name);
      w.resume(checked(w, target));
    },
    async deadLetters(name, { limit = 100 } = {}) {
      const w = worker(name);
      const found = await letters(w);
      const newest = found.sort((a, b) => (b.failedAt ?? "").localeCompare(a.failedAt ?? "")).slice(0, limit);
      const avro = deps.decoding(name);
      await avro?.warm(newest.map((l) => l.original)).catch(() => undefined);
      return newest.map(({ original, ...rest }) => {
        const headers = Object.fromEntries(Object.entries(original.headers).map(([k, v]) => [k, v.toString("utf8")]));
        let value: unknown = null;
        let valueError: string | undefined;
        try {
          value = jsonSafe(decodeValue(original.value, w.handler.format, avro?.decode));
        } catch (e) {
          valueError = coerceError(e).message;
          value = original.value ? { base64: original.value.toString("base64") } : null;
        }
        const source = { topic: original.topic, partition: original.partition, offset: original.offset, timestamp: original.timestamp };
        return {
          ...rest,
          source,
          key: original.key?.toString("utf8") ?? null,
          headers,
          value,
          ...(valueError ? { valueError } : {}),
          ...traceFieldsOf(headers),
        };
      });
    },
    inboxRows: () => countInboxRows(deps.sql),
    async outbox() {
      const backlog = await (deps.outboxBacklog?.() ?? outboxBacklog(deps.sql));
      return { ...backlog, readyAgeMs: config.outbox.readyAgeMs };
    },
    async replay(name, eventIds, dryRun) {
      const w = worker(name);
      const wanted = new Set(eventIds);
      const selected = (await letters(w)).filter((l) => l.eventId !== null && wanted.has(l.eventId));
      const missing = eventIds.filter((id) => !selected.some((l) => l.eventId === id));
      if (missing.length > 0) throw new ControlRefusedError(`no dead letter of handler ${name} has event id ${missing.join(", ")}`);
      // One letter per event id: the same event dead-lettered twice is replayed once.
      const unique = [...new Map(selected.map((l) => [l.eventId, l])).values()];
      const avro = deps.decoding(w.handler.name);
      return replayDeadLetters(unique, {
        sql: deps.sql,
        handler: w.handler,
        groupId: w.groupId,
        settings: config,
        log: deps.log,
        dryRun,
        ...(avro ? { avro } : {}),
        ...(deps.outbox ? { outbox: deps.outbox } : {}),
      });
    },
  };
}

/** Buffers as base64 and bigints as strings, so any decoded value can be sent as JSON. */
function jsonSafe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { base64: value.toString("base64") };
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  return value;
}

function stallOf(p: StalledPartition | undefined): Pick<PartitionStatus, "stalled"> {
  if (!p) return {};
  const last = p.lastFailure;
  return {
    stalled: {
      since: new Date(p.since).toISOString(),
      offset: p.offset,
      ...(last ? { lastError: `${last.errorClass}${last.errorCode ? ` ${last.errorCode}` : ""}: ${last.error}` } : {}),
    },
  };
}
