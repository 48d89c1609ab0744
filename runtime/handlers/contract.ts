/**
 * The handler plugin contract: what a file in the handlers directory exports.
 * Handler authors read this file: keep the JSDoc exact.
 */
import type { Sql, TransactionSql } from "postgres";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { Logger } from "../log/logger.ts";

/**
 * How the bytes of an event's value become the value passed to `handle`. "avro": the schema
 * registry's wire format (magic byte 0, schema id, Avro binary), decoded with the writer's
 * registered schema and resolved to the handler's `schema`; needs FERRY_SCHEMA_REGISTRY_URL.
 */
export type ValueFormat = "json" | "string" | "bytes" | "avro";

/**
 * Metadata of the Kafka record an event came from. A retry from a retry topic is the same event:
 * its source topic, partition, offset and timestamp, with `ferry-retry-*` headers added
 * (`ferry-retry-attempt`, `ferry-retry-due-at`, the last error).
 */
export interface EventMeta {
  /** The technical event id, from the event-id header (see FERRY_EVENT_ID_HEADER). */
  id: string;
  /**
   * The record's Kafka key as text, or null when it has none or when its bytes are not valid
   * UTF-8: never a replaced or re-encoded form that two different keys could share.
   */
  key: string | null;
  /** The record's Kafka key as it was sent (binary keys: Avro, UUID bytes, ...); null when it has none. */
  keyBytes: Buffer | null;
  /** Header values as UTF-8 text; a value that is not valid UTF-8 is given in base64. */
  headers: Readonly<Record<string, string>>;
  topic: string;
  partition: number;
  /** The record's offset, as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  /** The record's timestamp, in milliseconds since the epoch. */
  timestamp: number;
}

/**
 * Key-level concurrency inside a partition, for handlers that wait on something slow (an HTTP
 * call, a rate-limited API). Each event runs alone in its own transaction (inbox row, business
 * key, effects).
 */
export interface ConcurrencyOptions {
  /** Events of one partition running at the same time, at most (1-256). Each holds a database connection while it runs. */
  perPartition: number;
  /**
   * "key" (default): events with the same Kafka key run strictly in offset order, one after the
   * other; events with different keys run side by side (records without a key count as one key).
   * "none": no order at all, for handlers whose events are independent.
   */
  order?: "key" | "none";
}

/**
 * Retrying in place (the default): the failing event is tried again after a backoff while its
 * partition waits (other partitions go on), then dead-lettered as `exhausted`.
 */
export interface RetryPolicy {
  mode?: "in-place";
  /** Total attempts, the first included. 1 = never retry. Default 5. */
  attempts: number;
  /** Delay before the second attempt; doubles each time, with jitter. Default 200 ms. */
  backoffMs: number;
  /** Upper bound of a single delay. Default 30 s. */
  maxBackoffMs: number;
}

/**
 * Non-blocking retries: an event that fails by its own fault goes to a retry topic with a due time
 * and its partition moves on at once. Ferry consumes the retry topics (`<topic>.<handler>.retry.<n>`,
 * one per delay) and runs each event again when due, then dead-letters it as
 * `retry-topics-exhausted` after the last delay. The event keeps its id all the way, so a retry
 * that succeeds is applied once. The price is order: a retried event is applied after later events
 * of its partition (and key). Failures that are not the event's (database or broker down) still
 * wait in place; permanent ones (`ctx.permanent`, decode, business key) dead-letter at once.
 */
export interface RetryTopicsPolicy {
  mode: "topics";
  /**
   * The wait before each retry, one retry topic per entry: e.g. `["5s", "1m", "10m"]` makes four
   * attempts in all. Strings with a unit (`ms`, `s`, `m`, `h`) or milliseconds; 1 to 10 delays,
   * each at most 24h (a retry waits in its topic and must be read before retention drops it).
   */
  delays: readonly (string | number)[];
}

/** What a batch handler receives besides its events. */
export interface BatchContext {
  /**
   * postgres.js bound to the transaction in which Ferry records the event in its inbox.
   * Everything written through it commits (or rolls back) together with that record.
   */
  sql: TransactionSql;
  /** Drizzle over the same transaction. */
  db: PostgresJsDatabase;
  log: Logger;
  /** 1 for the first attempt, 2 for the first retry, ... (with retry topics: the attempt the retry topic delivers). */
  attempt: number;
  /** Aborted when the worker is shutting down or the partition is being revoked. */
  signal: AbortSignal;
  /** Returns an error that dead-letters the event at once, without retrying: `throw ctx.permanent("why")`. */
  permanent(message: string, options?: { cause?: unknown }): Error;
  /**
   * Publishes an event to `topic`, exactly once in effect: it is written to Ferry's outbox in this
   * transaction (nothing is sent if the call fails, is retried or dead-lettered) and sent to Kafka
   * by the relay once the transaction committed. Its event-id header is derived from this
   * handler, the event being handled and the position of this publish for that event within the
   * call, so a retried or replayed call publishes the same ids (a downstream inbox drops copies).
   * `topic` must be declared in the handler's `publishes`; the value is encoded in the format
   * declared there. In `handleBatch`, pass the item's event: `{ event: item.event }`.
   * Awaiting it is optional: the events are written together when the call returns (one
   * statement), before Ferry commits.
   */
  publish(topic: string, value: unknown, options?: PublishOptions): Promise<void>;
}

export interface PublishOptions {
  /** The record key: records of one (topic, key) are sent in the order they were published. */
  key?: string | Uint8Array | null;
  /** Extra headers (Ferry sets the event id header itself). */
  headers?: Record<string, string>;
  /**
   * The event this publish follows from. Required in `handleBatch` (pass `item.event`); in
   * `handle` it is the event being handled.
   */
  event?: EventMeta;
}

/** A topic a handler publishes to, and how its values are written. */
export interface PublishDeclaration {
  topic: string;
  /** Default "json". "avro": the registry's wire format, with `schema` (registered beforehand, never auto-registered). */
  format?: ValueFormat;
  /** With `format: "avro"`: the writer schema, a path to an `.avsc` file relative to the handler, or the schema object. */
  schema?: string | Record<string, unknown>;
}

/** What a handler receives besides the event itself. */
export interface HandlerContext extends BatchContext {
  event: EventMeta;
}

/** One event of a batch handed to `handleBatch`. */
export interface BatchItem<T> {
  value: T;
  event: EventMeta;
}

export interface HandlerDefinition<T = unknown> {
  /** The topic (or topics) this handler consumes. */
  topic: string | readonly string[];
  /**
   * The event's business key, for functional deduplication: two events with the same key
   * (and different event ids) are applied once; the second goes to the dead letter topic.
   * Omit it when every event id is a distinct piece of work.
   */
  businessKey?: (value: T, event: EventMeta) => string;
  /** How to read the value. Default "json". */
  format?: ValueFormat;
  /**
   * With `format: "avro"`: the reader schema, the shape `handle` receives whatever version a
   * producer wrote (fields it lacks get their defaults, fields it has and the reader does not
   * are dropped). A path to an `.avsc` file, relative to this handler's directory (e.g.
   * "../schemas/order-placed.avsc"), or the schema itself as an object. At start Ferry checks it
   * against every version registered for the handler's topics (FERRY_SCHEMA_GATE). Omitted:
   * values are decoded with each writer's own schema.
   */
  schema?: string | Record<string, unknown>;
  /**
   * What happens when `handle` fails by the event's fault: retried in place (default, e.g.
   * `{ attempts: 5, backoffMs: 200 }`, the partition waits) or through retry topics
   * (`{ mode: "topics", delays: ["5s", "1m", "10m"] }`, the partition moves on). Then dead-lettered.
   */
  retry?: Partial<RetryPolicy> | RetryTopicsPolicy;
  /**
   * Key-level concurrency inside each partition, e.g. `{ perPartition: 32, order: "key" }`.
   * Omitted: a partition's events are applied in offset order, in batches (one transaction for
   * many events). With it, the partition's stored offset only advances over the events done
   * without a gap, so after a crash the events done past a gap come again and the inbox skips
   * them. Needs `handle` (not `handleBatch`).
   */
  concurrency?: ConcurrencyOptions;
  /**
   * The topics `ctx.publish` may write to, with their formats: `ferry topology --handlers` grants
   * write on them and Ferry checks Avro schemas are registered at start. A publish to any other
   * topic fails at the call.
   */
  publishes?: readonly PublishDeclaration[];
  /**
   * How long one call of `handle` (or `handleBatch`) may take, in milliseconds. Past it the call
   * counts as a failed attempt (retried, then dead-lettered), `ctx.signal` aborts and the
   * transaction's statements are cancelled. Default 30 000.
   */
  timeoutMs?: number;
  /**
   * Applies one event. Runs inside the inbox transaction; throw to fail the attempt.
   * Each awaited statement is a database round trip per event: for high volumes, prefer `handleBatch`.
   */
  handle?(value: T, ctx: HandlerContext): Promise<void> | void;
  /**
   * Applies the new events of a partition batch at once, in offset order (duplicates already
   * removed), e.g. with one set-based `insert ... select * from unnest(...)`. Runs inside the
   * inbox transaction. When it throws, Ferry narrows the batch down (bisection) to the failing
   * event, which is then retried alone and dead-lettered like any other. Define `handle` or
   * `handleBatch`, not both.
   */
  handleBatch?(items: BatchItem<T>[], ctx: BatchContext): Promise<void> | void;
}

const brand = Symbol.for("ferry.handler");

/** Declares a handler. Returns the definition unchanged, marked so the loader can recognise it. */
export function defineHandler<T = unknown>(definition: HandlerDefinition<T>): HandlerDefinition<T> {
  Object.defineProperty(definition, brand, { value: true, enumerable: false });
  return definition;
}

/** Narrows the raw types postgres.js hands us to the transaction type handlers see. */
export type AnySql = Sql | TransactionSql;
