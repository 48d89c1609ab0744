/**
 * Ferry's own tables. `migrations/` holds the SQL generated from this file by drizzle-kit
 * (`bun run db:generate`); never edit a generated migration that has shipped.
 */
import { sql } from "drizzle-orm";
import { bigint, bigserial, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });

/** One row per (handler, event id) that Ferry has dealt with: technical deduplication. */
export const inbox = pgTable(
  "ferry_inbox",
  {
    handler: text("handler").notNull(),
    eventId: text("event_id").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    offset: bigint("offset", { mode: "bigint" }).notNull(),
    /** "applied" or "dead-lettered": a replay from the dead letter topic may only take the latter. */
    outcome: text("outcome").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ name: "ferry_inbox_pk", columns: [t.handler, t.eventId] }),
    // The retention pruner deletes by age.
    index("ferry_inbox_received_at_idx").on(t.receivedAt),
  ],
);

/** One row per (handler, business key): functional deduplication. */
export const businessKeys = pgTable(
  "ferry_business_keys",
  {
    handler: text("handler").notNull(),
    businessKey: text("business_key").notNull(),
    eventId: text("event_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ name: "ferry_business_keys_pk", columns: [t.handler, t.businessKey] })],
);

/**
 * The next offset to consume per (consumer group, topic, partition), written in the same
 * transaction as the effects, so a crash between the database commit and the Kafka commit
 * replays nothing.
 */
export const offsets = pgTable(
  "ferry_offsets",
  {
    groupId: text("group_id").notNull(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    nextOffset: bigint("next_offset", { mode: "bigint" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ name: "ferry_offsets_pk", columns: [t.groupId, t.topic, t.partition] })],
);

/**
 * Events handlers published (`ctx.publish`), written in the handler's transaction and sent to
 * Kafka by the relay (outbox/relay.ts) after it committed. `id` is the send order: the relay
 * sends unsent rows in id order, so rows of one (topic, key) written one transaction after the
 * other go out in that order. Sent rows are kept (`sent_at`) until the retention prunes them.
 * A row Kafka refused for what it is (too large for its topic, an invalid record) is set aside
 * (`failed_at`, `failure`) so the rows after it go out; it is kept, never pruned, for an operator.
 */
export const outbox = pgTable(
  "ferry_outbox",
  {
    id: bigserial("id", { mode: "bigint" }).primaryKey(),
    /** Derived from (handler, source event id, position of the publish): outbox/event-id.ts. */
    eventId: text("event_id").notNull(),
    handler: text("handler").notNull(),
    sourceEventId: text("source_event_id").notNull(),
    topic: text("topic").notNull(),
    key: bytea("key"),
    value: bytea("value"),
    /** Header name → value (text), the event id header included. */
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    /** When the relay set the row aside: Kafka refused the record itself, for good (outbox/refusals.ts). */
    failedAt: timestamp("failed_at", { withTimezone: true }),
    /** Kafka's refusal: its error code (librdkafka's name) and message. */
    failure: jsonb("failure").$type<{ code: string; message: string }>(),
  },
  (t) => [
    // A replayed handler call writes the same event ids again: kept once.
    uniqueIndex("ferry_outbox_event_id_idx").on(t.eventId),
    // The relay reads the unsent rows in id order; the backlog metric counts them. Set-aside rows are neither.
    index("ferry_outbox_pending_idx").on(t.id).where(sql`${t.sentAt} is null and ${t.failedAt} is null`),
    // Few, and kept: the admin page and a metric count them.
    index("ferry_outbox_failed_idx").on(t.failedAt).where(sql`${t.failedAt} is not null`),
    // The retention pruner deletes sent rows by age.
    index("ferry_outbox_sent_at_idx").on(t.sentAt),
  ],
);
