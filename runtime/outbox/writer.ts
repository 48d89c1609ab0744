/**
 * The handler side of the outbox: `ctx.publish` encodes the value with its topic's declared
 * format, derives the event id and writes the row in the handler's transaction. The relay
 * (relay.ts) sends what committed.
 */
import type { TransactionSql } from "postgres";
import { insertOutboxRows, notifyOutbox, type OutboxRow, storedHeaderOrder, type UnsentRow } from "../db/sql/outbox.ts";
import { PublishError } from "../errors.ts";
import type { EventMeta, PublishOptions } from "../handlers/contract.ts";
import type { LoadedHandler } from "../handlers/validate.ts";
import type { Encode } from "./encode.ts";
import { outboxEventId } from "./event-id.ts";

export interface OutboxWriter {
  /** The event id header name (FERRY_EVENT_ID_HEADER): downstream Ferry handlers deduplicate on it. */
  readonly eventIdHeader: string;
  /** Each declared topic's encoder for this handler (see encode.ts `prepareEncoders`). */
  encoders(handler: string): Map<string, Encode> | undefined;
  /** Publishes within one unit of work's transaction. */
  open(tx: TransactionSql, handler: LoadedHandler, groupId: string): OutboxCall;
  /** A transaction committed these rows (OutboxCall.written): the relay sends them now. */
  committed(rows: readonly UnsentRow[]): void;
}

export interface OutboxCall {
  /** `event`: the event being handled (per-event handlers); `options.event` wins. */
  publish(topic: string, value: unknown, options: PublishOptions | undefined, event: EventMeta | undefined): Promise<void>;
  /**
   * Writes the rows published since the last write, in one statement, and waits for every write:
   * a failure is the handler's call's. Returns how many rows this unit wrote in all.
   */
  settle(): Promise<number>;
  /** The rows this unit wrote, with their ids: once it commits, the relay sends them from here. */
  written(): readonly UnsentRow[];
  /** The transaction ended (committed or rolled back): a publish now is refused, not silently dropped. */
  close(): void;
}

/** Kafka's default `message.max.bytes`: a bigger record could never be sent, so it is refused at the call. */
export const MAX_RECORD_BYTES = 1_000_000;
/**
 * Published rows are written in one statement per call, unless they come to more than this:
 * then as they pass it. A fan-out of thousands of large events must not become one statement of
 * gigabytes (PostgreSQL refuses a value over 1 GB, and the worker would hold them all meanwhile).
 */
export const WRITE_CHUNK = { rows: 10_000, bytes: 16 * 1024 * 1024 };

export function createOutboxWriter({
  eventIdHeader,
  encoders,
  wake,
}: {
  eventIdHeader: string;
  encoders: Map<string, Map<string, Encode>>;
  wake(rows: readonly UnsentRow[]): void;
}): OutboxWriter {
  return {
    eventIdHeader,
    encoders: (handler) => encoders.get(handler),
    committed: wake,
    open(tx, handler, groupId) {
      const declared = encoders.get(handler.name) ?? new Map<string, Encode>();
      // Publishes so far per source event: the position is what makes a replayed call's ids equal.
      const positions = new Map<string, number>();
      // Published, not yet written: one set-based insert per handler call, not a statement per event.
      let pending: OutboxRow[] = [];
      let pendingBytes = 0;
      const written: UnsentRow[] = [];
      let notified = false;
      let closed = false;
      /** Writes started by publishes that passed a chunk, and the first failure among them. */
      const writes: Array<Promise<void>> = [];
      let failure: { reason: unknown } | undefined;
      const write = async () => {
        if (pending.length === 0) return;
        const rows = pending;
        pending = [];
        pendingBytes = 0;
        const inserting = insertOutboxRows(tx, rows);
        const statements: Array<Promise<unknown>> = [inserting];
        // Delivered at commit only: relays of other replicas wake then.
        if (!notified) statements.push(notifyOutbox(tx));
        notified = true;
        // Both answered (pipelined) before a failure is raised: the driver must not be left with one in flight.
        const settled = await Promise.allSettled(statements);
        const failed = settled.find((s) => s.status === "rejected");
        if (failed) {
          failure ??= { reason: (failed as PromiseRejectedResult).reason };
          throw failure.reason;
        }
        const byEventId = new Map(rows.map((r) => [r.eventId, r]));
        for (const w of await inserting) {
          const r = byEventId.get(w.event_id)!;
          written.push({
            id: w.id,
            event_id: w.event_id,
            handler: r.handler,
            topic: r.topic,
            key: r.key,
            value: r.value,
            headers: storedHeaderOrder(r.headers),
            created_ms: w.created_ms,
          });
        }
      };
      return {
        close() {
          closed = true;
        },
        publish(topic, value, options, event) {
          if (closed) {
            throw new PublishError(
              `publish to ${topic} after the handler's call returned and its transaction ended: the event would be lost; await every publish inside handle/handleBatch`,
              { code: "publish-after-return" },
            );
          }
          const source = options?.event ?? event;
          if (!source) {
            throw new PublishError(`publish to ${topic} from handleBatch: pass the item's event, ctx.publish(topic, value, { event: item.event })`, {
              code: "publish-without-event",
            });
          }
          const encode = declared.get(topic);
          if (!encode) {
            const known = [...declared.keys()];
            throw new PublishError(
              `handler ${handler.name} published to topic ${topic}, which it does not declare: add { topic: ${JSON.stringify(topic)} } to its \`publishes\`${known.length > 0 ? ` (declared: ${known.join(", ")})` : ""}`,
              { code: "undeclared-topic" },
            );
          }
          const position = positions.get(source.id) ?? 0;
          positions.set(source.id, position + 1);
          const bytes = encode(value);
          const key = recordKey(topic, options?.key);
          const eventId = outboxEventId({ groupId, sourceEventId: source.id, position });
          const headers = { ...recordHeaders(topic, options?.headers, eventIdHeader), [eventIdHeader]: eventId };
          const size = (bytes?.length ?? 0) + (key?.length ?? 0) + Object.entries(headers).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
          if (size > MAX_RECORD_BYTES) {
            throw new PublishError(`publish to ${topic}: the record is ${size} bytes, over Kafka's ${MAX_RECORD_BYTES}-byte limit`, {
              code: "record-too-large",
            });
          }
          pending.push({ eventId, handler: handler.name, sourceEventId: source.id, topic, key, value: bytes, headers });
          pendingBytes += size;
          if (pending.length < WRITE_CHUNK.rows && pendingBytes < WRITE_CHUNK.bytes) return Promise.resolve();
          const chunk = write();
          // Handled here as well: a handler that does not await its publish fails at settle, not as an unhandled rejection.
          writes.push(chunk.catch(() => undefined));
          return chunk;
        },
        async settle() {
          await Promise.all(writes.splice(0));
          if (failure) throw failure.reason;
          await write();
          return written.length;
        },
        written: () => written,
      };
    },
  };
}

/** The record key as bytes; a key Kafka could not carry as given is refused at the call. */
function recordKey(topic: string, key: unknown): Buffer | null {
  if (key === undefined || key === null) return null;
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (typeof key !== "string") {
    throw new PublishError(`publish to ${topic}: the key must be a string, a Buffer or null, got ${typeof key}`, { code: "invalid-key" });
  }
  // Two different keys with lone surrogates would both become U+FFFD in UTF-8: one key, merged unseen.
  if (!key.isWellFormed())
    throw new PublishError(`publish to ${topic}: the key has a lone UTF-16 surrogate, which UTF-8 cannot carry`, { code: "invalid-key" });
  return Buffer.from(key);
}

/** The handler's extra headers: string names and values only, and never Ferry's event id header. */
function recordHeaders(topic: string, headers: unknown, eventIdHeader: string): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  const refuse = (why: string) => new PublishError(`publish to ${topic}: ${why}`, { code: "invalid-headers" });
  if (typeof headers !== "object" || Array.isArray(headers))
    throw refuse(`headers must be an object of string values, got ${Array.isArray(headers) ? "an array" : typeof headers}`);
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === eventIdHeader) throw refuse(`the header ${name} is Ferry's event id, set by Ferry itself`);
    if (typeof value !== "string") throw refuse(`header ${name} must be a string, got ${typeof value}`);
    if (!name.isWellFormed() || !value.isWellFormed()) throw refuse(`header ${name} has a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    // The row keeps its headers as jsonb, which has no NUL: the insert would fail after the handler ran.
    if (name.includes("\0") || value.includes("\0"))
      throw refuse(`header ${JSON.stringify(name)} contains U+0000 (NUL), which the outbox (PostgreSQL jsonb) cannot store`);
    checked[name] = value;
  }
  return checked;
}
